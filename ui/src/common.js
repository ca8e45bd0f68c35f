// What every page's script uses: DOM look-ups, the JSON API with its CSRF header, formats,
// and the instance badges and buttons the dashboard and the instance page share.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

function csrfToken() {
  return cookie(document.body.dataset.csrfCookie || "spendsense_csrf");
}

// One call to the API; the CSRF token rides in a header on every state-changing call.
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (_) { data = null; }
  if (resp.status === 401 && !["login", "signup", "forgot", "reset"].includes(document.body.dataset.page)) {
    window.location.href = "/login";
  }
  return { ok: resp.ok, status: resp.status, data };
}

export function errorText(res) {
  const err = res.data && res.data.error;
  if (!err) return `request failed (${res.status})`;
  if (err.fields && err.fields.length > 1) return err.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
  return err.message;
}

export const money = (x) => "$" + Number(x || 0).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
export function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

export function stateBadge(state) {
  const colours = { running: "bg-emerald-100 text-emerald-800", stopping: "bg-amber-100 text-amber-800", stopped: "bg-slate-200 text-slate-700", pending: "bg-sky-100 text-sky-800" };
  return `<span class="badge state ${colours[state] || "bg-slate-100 text-slate-700"}">${esc(state)}</span>`;
}

// The detector's verdict as people read it: "Idle · 87 %", "Provisional" or "Active" (the
// confidence is the verdict's, never the model's novelty score).
export function verdictLabel(status, confidence) {
  if (status === "idle") return confidence == null ? "Idle" : `Idle · ${Math.round(confidence * 100)} %`;
  return status === "provisional" ? "Provisional" : "Active";
}

// The verdict is always written out (colour is never its only sign).
export function verdictBadge(status, confidence) {
  const colours = { idle: "bg-amber-200 text-amber-900", provisional: "bg-sky-100 text-sky-800", active: "bg-slate-100 text-slate-700" };
  return `<span class="badge verdict ${colours[status] || colours.active}" data-status="${esc(status)}">${esc(verdictLabel(status, confidence))}</span>`;
}

export const detailHref = (id) => `/instances/${encodeURIComponent(id)}`;

// How a row names its instance to a screen reader: "web-1 (i-0abc…)".
export const instanceName = (i) => (i.name ? `${i.name} (${i.instance_id})` : i.instance_id);

// Stop or Start as the state allows; "Not idle" beside Stop when the instance looks idle.
export function actionButtons(i, looksIdle) {
  const id = esc(i.instance_id);
  const named = (label) => `aria-label="${esc(label)}"`;
  if (i.state === "stopped") return `<button class="btn-ghost" data-action="start" data-instance-id="${id}" ${named(`Start ${instanceName(i)}`)}>Start</button>`;
  if (i.state !== "running") return "";
  let html = i.stoppable
    ? `<button class="${looksIdle ? "btn-danger" : "btn-ghost"}" data-action="stop" data-instance-id="${id}" ${named(`Stop ${instanceName(i)}`)}>Stop</button>`
    : `<span class="text-xs text-slate-600" title="${esc(i.not_stoppable_reason)}">cannot stop</span>`;
  if (looksIdle) html += ` <button class="btn-ghost" data-action="not-idle" data-instance-id="${id}" ${named(`Mark ${instanceName(i)} not idle`)}>Not idle</button>`;
  return html;
}

// Stop, Start or Not idle through the API (CSRF header), then read what changed (`reload`,
// handed the action's result when there is one).
export async function instanceAction(button, reload) {
  const id = button.dataset.instanceId;
  const action = button.dataset.action;
  button.disabled = true;
  const msg = $("#action-message");
  const res = await api("POST", `/api/instances/${encodeURIComponent(id)}/${action}`);
  if (res.ok) {
    msg.className = "mb-2 text-sm text-emerald-700";
    msg.textContent = res.data.message;
  } else {
    msg.className = "mb-2 text-sm text-rose-700";
    msg.textContent = errorText(res);
    button.disabled = false;
  }
  await reload(res.ok ? res.data : null);
}

export function auditItems(items) {
  return items.length
    ? items.map((a) => `<li class="py-1.5" data-audit-id="${a.id}"><span class="font-medium">${esc(a.action)}</span> <span class="font-mono text-xs">${esc(a.instance_id || "")}</span> → ${esc(a.result)}${a.dry_run ? " (dry run)" : ""}<div class="text-xs text-slate-600">${when(a.at)} · ${esc(a.actor)}${a.reason ? " · " + esc(a.reason) : ""}</div></li>`).join("")
    : '<li class="py-1.5 text-slate-600">Nothing yet.</li>';
}
