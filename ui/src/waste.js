// Waste beyond instances: the overview cards by kind (dashboard and /waste), one kind's
// list (/waste/{kind}) and one resource's page (/waste/{kind}/{id}), with their actions.
// An irreversible action opens a dialog whose button stays disabled until the person
// types the resource's id (or public IP, or name); the API checks it again.

import { $, api, errorText, esc, money, when } from "./common.js";

const VERDICTS = {
  waste: ["Wasted", "bg-rose-100 text-rose-800"],
  provisional: ["Provisional", "bg-amber-100 text-amber-800"],
  ok: ["In use", "bg-emerald-100 text-emerald-800"],
  gone: ["Gone", "bg-slate-200 text-slate-700"],
};
const ACTION_LABELS = { "snapshot-then-delete": "Snapshot & delete", release: "Release", "tag-and-notify": "Flag", delete: "Delete", stop: "Stop" };

const resourceHref = (kind, id) => `/waste/${kind}/${encodeURIComponent(id)}`;
const actionUrl = (kind, id, action) => `/api/waste/${kind}/${encodeURIComponent(id)}/actions/${action}`;

function verdictBadge(verdict) {
  const [label, colours] = VERDICTS[verdict] || [verdict, "bg-slate-100 text-slate-700"];
  return `<span class="badge verdict ${colours}">${esc(label)}</span>`;
}

function actionButtons(r, confirmWith) {
  if (r.verdict === "gone") return "";
  return r.actions.map((a) => {
    const style = a.confirm || a.action === "snapshot-then-delete" ? "btn-danger" : "btn-ghost";
    const off = r.protected ? ' disabled title="protected by its tag"' : "";
    // an irreversible action is an admin's (the server refuses anyone else)
    const needs = a.confirm ? "admin" : "operator";
    return `<button data-needs="${needs}" class="${style} waste-act" data-kind="${esc(r.kind)}" data-id="${esc(r.resource_id)}" data-action="${esc(a.action)}" data-confirm="${a.confirm ? "1" : ""}" data-expected="${esc(confirmWith(r).join(" "))}"${off}>${esc(ACTION_LABELS[a.action] || a.action)}</button>`;
  }).join(" ");
}

// The typed confirmation: resolves with what was typed, or null when cancelled.
function typedConfirmation(text, expected) {
  const dialog = $("#waste-confirm");
  const input = $("#waste-confirm-input");
  const go = $("#waste-confirm-go");
  $("#waste-confirm-text").textContent = text;
  $("#waste-confirm-expected").textContent = expected[0];
  input.value = "";
  go.disabled = true;
  input.oninput = () => { go.disabled = !expected.includes(input.value.trim()); };
  return new Promise((resolve) => {
    dialog.onclose = () => resolve(dialog.returnValue === "go" && !go.disabled ? input.value.trim() : null);
    dialog.showModal();
    input.focus();
  });
}

async function act(button, reload) {
  const { kind, id, action } = button.dataset;
  const body = {};
  if (button.dataset.confirm) {
    const expected = button.dataset.expected.split(" ").filter(Boolean);
    const typed = await typedConfirmation(`${ACTION_LABELS[action] || action} ${id}?`, expected);
    if (typed === null) return;
    body.confirm = typed;
  }
  button.disabled = true;
  const res = await api("POST", actionUrl(kind, id, action), body);
  $("#waste-message").textContent = res.ok ? res.data.message : "";
  $("#waste-error").textContent = res.ok ? "" : errorText(res);
  await reload();
}

function bindActions(root, reload) {
  root.addEventListener("click", (ev) => {
    const button = ev.target.closest("button.waste-act");
    if (button) act(button, reload);
  });
}

// ---- overview cards -----------------------------------------------------------------------
function card(href, label, count, monthly, extra = "") {
  return `<a class="card block min-w-0 hover:ring-indigo-300" href="${href}"><p class="text-xs uppercase text-slate-600">${esc(label)}</p><p class="waste-count mt-1 text-xl font-semibold">${count}</p><p class="waste-usd text-sm text-rose-600">${money(monthly)}/mo</p>${extra}</a>`;
}

async function initCards() {
  const res = await api("GET", "/api/waste");
  if (!res.ok) { $("#waste-cards-error").textContent = errorText(res); return; }
  const o = res.data;
  const instances = card("/", "Idle EC2 instances", o.instances.idle, o.instances.monthly_waste_usd);
  const kinds = o.kinds.map((k) => card(`/waste/${k.kind}`, k.label, k.count, k.monthly_waste_usd, k.provisional ? `<p class="text-xs text-slate-500">${k.provisional} provisional</p>` : "").replace("<a ", `<a data-kind="${esc(k.kind)}" `));
  $("#waste-cards").innerHTML = instances + kinds.join("");
  const sum = $("#waste-sum");
  if (sum) sum.textContent = `${o.count} resources, ${money(o.monthly_waste_usd)}/mo`;
}

// ---- one kind's list ----------------------------------------------------------------------
function initKind(section) {
  const kind = section.dataset.kind;
  const limit = 50;
  let offset = 0;
  const load = async () => {
    const all = $("#waste-all").checked ? "&all=true" : "";
    const res = await api("GET", `/api/waste/${kind}?offset=${offset}&limit=${limit}${all}`);
    if (!res.ok) { $("#waste-error").textContent = errorText(res); return; }
    const page = res.data;
    $("#waste-total").textContent = `${page.total} listed`;
    $("#waste-rows").innerHTML = page.items.length
      ? page.items.map((r) => `<tr data-id="${esc(r.resource_id)}"><td class="py-2"><a class="text-indigo-600" href="${resourceHref(kind, r.resource_id)}">${esc(r.name || r.resource_id)}</a>${r.name ? `<div class="font-mono text-xs text-slate-500">${esc(r.resource_id)}</div>` : ""}</td><td>${esc(r.region)}</td><td>${verdictBadge(r.verdict)}</td><td>${esc(r.reason)}${r.since ? `<div class="text-xs text-slate-500">since ${when(r.since)}</div>` : ""}</td><td>${r.monthly_price_usd == null ? "–" : money(r.monthly_price_usd)}</td><td>${money(r.monthly_waste_usd)}</td><td class="whitespace-nowrap">${actionButtons(r, (x) => [x.resource_id])}</td></tr>`).join("")
      : '<tr><td colspan="7" class="py-2 text-slate-500">Nothing found wasted.</td></tr>';
    $("#waste-prev").disabled = offset === 0;
    $("#waste-next").disabled = offset + limit >= page.total;
  };
  $("#waste-all").addEventListener("change", () => { offset = 0; load(); });
  $("#waste-prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  $("#waste-next").addEventListener("click", () => { offset += limit; load(); });
  bindActions($("#waste-rows"), load);
  load();
}

// ---- one resource -------------------------------------------------------------------------
const FACT_KEYS = (d) => Object.entries(d).filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length));
const confirmWith = (r) => [r.resource_id, r.details.public_ip, r.details.allocation_id, r.details.name, r.details.arn].filter(Boolean);

function initResource(div) {
  const { kind, resourceId } = div.dataset;
  const load = async () => {
    const res = await api("GET", `/api/waste/${kind}/${encodeURIComponent(resourceId)}`);
    if (!res.ok) { $("#waste-error").textContent = errorText(res); return; }
    const r = res.data;
    $("#resource-verdict").innerHTML = verdictBadge(r.verdict) + (r.protected ? ' <span class="badge bg-indigo-100 text-indigo-800">protected</span>' : "");
    $("#resource-actions").innerHTML = actionButtons(r, confirmWith);
    $("#resource-notes").textContent = r.actions.map((a) => a.note).filter(Boolean).join(" ");
    $("#resource-reason").textContent = r.reason || "No verdict yet.";
    const dl = (pairs) => pairs.map(([k, v]) => `<dt class="text-slate-500">${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
    $("#resource-figures").innerHTML = dl([
      ["Since", when(r.since)],
      ["Price/mo", r.monthly_price_usd == null ? "–" : money(r.monthly_price_usd)],
      ["Waste/mo", money(r.monthly_waste_usd)],
      ["Last action", r.last_action ? `${r.last_action} (${when(r.last_action_at)})` : "–"],
    ]);
    $("#resource-facts").innerHTML = dl([
      ["Account", r.account_id], ["Region", r.region], ["State", r.state || "–"],
      ...FACT_KEYS(r.details).map(([k, v]) => [k.replace(/_/g, " "), Array.isArray(v) ? v.join(", ") : v]),
      ...Object.entries(r.tags).map(([k, v]) => [`tag ${k}`, v]),
    ]);
    $("#resource-audit").innerHTML = r.audit.length
      ? r.audit.map((a) => `<li class="py-1"><span class="font-medium">${esc(a.action)}: ${esc(a.result)}</span>${a.dry_run ? " (dry run)" : ""} · ${esc(a.actor)} · ${when(a.at)}<div class="text-xs text-slate-500">${esc(a.details.message || "")}${a.details.snapshot_id ? ` · snapshot ${esc(a.details.snapshot_id)}` : ""}</div></li>`).join("")
      : '<li class="py-1 text-slate-500">Nothing done yet.</li>';
  };
  bindActions($("#resource-actions"), load);
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  if ($("#waste-cards")) initCards();
  const kind = $("#waste-kind");
  if (kind) initKind(kind);
  const resource = $("#waste-resource");
  if (resource) initResource(resource);
});
