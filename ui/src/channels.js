// Settings → Channels: list, add, change, test and remove the organisation's notification
// channels (/api/channels, admins only). URLs come back masked; a webhook's signing
// secret is shown once, right after it is created.

import { $, $$, api, errorText, esc, when } from "./common.js";

const TOPICS = [["idle-findings", "idle findings"], ["anomalies", "anomalies"], ["actions", "actions taken"], ["failures", "failures"]];
const KINDS = { slack: "Slack", teams: "Teams", webhook: "Webhook" };

function checked(root) {
  return $$("input[type=checkbox][value]", root).filter((c) => c.checked).map((c) => c.value);
}

function failureItems(c) {
  if (!c.failures.length) return "";
  const rows = c.failures.map((f) => `<li>${esc(when(f.reserved_at))}: ${esc(f.summary)} · ${esc(f.status)} after ${f.attempts} tr${f.attempts === 1 ? "y" : "ies"} · ${esc(f.error || "")}</li>`);
  return `<details class="text-xs text-rose-800"><summary>${c.failures.length} failed deliver${c.failures.length === 1 ? "y" : "ies"}</summary><ul class="list-disc pl-5">${rows.join("")}</ul></details>`;
}

function channelItem(c) {
  const li = document.createElement("li");
  li.className = "space-y-2 py-3";
  li.dataset.channel = String(c.id);
  const topics = TOPICS.map(([v, label]) => `<label class="flex items-center gap-1"><input type="checkbox" value="${v}" ${c.subscriptions.includes(v) ? "checked" : ""}> ${label}</label>`).join("");
  const error = c.last_error ? `<p class="text-xs text-rose-700" data-last-error>Last error ${esc(when(c.last_error_at))}: ${esc(c.last_error)}</p>` : "";
  li.innerHTML = `
    <div class="flex flex-wrap items-center gap-2"><span class="badge bg-slate-100">${esc(KINDS[c.kind] || c.kind)}</span><strong>${esc(c.name)}</strong>
      <span class="font-mono text-xs text-slate-500">${esc(c.url_masked)}</span>${c.signed ? '<span class="badge bg-emerald-100 text-emerald-800">signed</span>' : ""}</div>
    <div class="flex flex-wrap gap-3 text-sm">${topics}<label class="flex items-center gap-1"><input type="checkbox" data-enabled ${c.enabled ? "checked" : ""}> enabled</label></div>
    <p class="text-xs text-slate-500">Last delivered: ${esc(when(c.last_sent_at))}</p>${error}${failureItems(c)}
    <p class="error" role="alert" data-error></p><p class="text-sm text-emerald-700" role="status" data-ok></p>
    <div class="flex flex-wrap gap-2"><button class="btn-ghost" type="button" data-save>Save</button><button class="btn-ghost" type="button" data-test>Send test</button><button class="btn-ghost" type="button" data-remove>Remove</button></div>`;
  const say = (ok, text) => { $("[data-ok]", li).textContent = ok ? text : ""; $("[data-error]", li).textContent = ok ? "" : text; };
  $("[data-save]", li).addEventListener("click", async () => {
    const res = await api("PUT", `/api/channels/${c.id}`, { subscriptions: checked(li), enabled: $("[data-enabled]", li).checked });
    say(res.ok, res.ok ? "Saved." : errorText(res));
  });
  $("[data-test]", li).addEventListener("click", async () => {
    const res = await api("POST", `/api/channels/${c.id}/test`);
    if (!res.ok) say(false, errorText(res));
    else say(res.data.ok, res.data.ok ? "Test message delivered." : `Test failed: ${res.data.error}`);
  });
  $("[data-remove]", li).addEventListener("click", async () => {
    if (!window.confirm(`Remove the channel "${c.name}"?`)) return;
    const res = await api("DELETE", `/api/channels/${c.id}`);
    if (res.ok) li.remove(); else say(false, errorText(res));
  });
  return li;
}

async function loadChannels() {
  const res = await api("GET", "/api/channels");
  const list = $("#channels");
  if (res.status === 403) {
    $("#channels-section").innerHTML = '<h2 class="font-semibold">Notification channels</h2><p class="text-sm text-slate-600">Only an admin of your organisation manages channels.</p>';
    return;
  }
  list.replaceChildren(...(res.ok ? res.data.map(channelItem) : []));
  if (res.ok && !res.data.length) list.innerHTML = '<li class="py-2 text-sm text-slate-500">No channels yet.</li>';
}

function initChannels() {
  const form = $("#channel-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#channel-error").textContent = "";
    const body = { kind: $("#channel_kind").value, name: $("#channel_name").value.trim(), url: $("#channel_url").value.trim(), subscriptions: checked($("#channel_topics")) };
    const res = await api("POST", "/api/channels", body);
    if (!res.ok) { $("#channel-error").textContent = errorText(res); return; }
    const secret = $("#channel-secret");
    secret.classList.toggle("hidden", !res.data.signing_secret);
    secret.textContent = res.data.signing_secret ? `Signing secret (copy it now, it is not shown again): ${res.data.signing_secret}` : "";
    form.reset();
    await loadChannels();
  });
  loadChannels();
}

initChannels();
