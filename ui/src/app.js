// SpendSense dashboard: every page's behaviour, calling the JSON API (no framework).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

function csrfToken() {
  return cookie(document.body.dataset.csrfCookie || "spendsense_csrf");
}

// One call to the API; the CSRF token rides in a header on every state-changing call.
async function api(method, url, body) {
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

function errorText(res) {
  const err = res.data && res.data.error;
  if (!err) return `request failed (${res.status})`;
  if (err.fields && err.fields.length > 1) return err.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
  return err.message;
}

const money = (x) => "$" + Number(x || 0).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

// ---- log-in and sign-up -------------------------------------------------------------
// Where to go once logged in: ?next= when it is a path on this site (an e-mailed Stop link
// sends people to log in and back), else the dashboard.
function nextPath() {
  const next = new URLSearchParams(window.location.search).get("next") || "";
  return /^\/[\w-]/.test(next) ? next : "/"; // never "//host" nor "/\thost" (tabs are dropped)
}

function authForm(formId, url, fields) {
  const form = $(formId);
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const f of fields) {
      const v = $("#" + f, form).value.trim();
      if (v || f !== "organisation") body[f] = f === "password" ? $("#" + f, form).value : v;
    }
    $("#form-error").textContent = "";
    const res = await api("POST", url, body);
    const done = $("#form-ok", form);
    // sign-up answers 202 "check your e-mail": nothing is logged in until the link is used
    if (res.ok && res.status === 202 && done) { done.textContent = res.data.message; form.reset(); }
    else if (res.ok) window.location.href = nextPath();
    else $("#form-error").textContent = errorText(res);
  });
}

// The reset page's form: the token comes from the mailed link (the page's data-token).
function initReset() {
  const form = $("#reset-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await api("POST", "/api/auth/password/reset", { token: form.dataset.token, password: $("#password").value });
    if (res.ok) window.location.href = "/";
    else $("#form-error").textContent = errorText(res);
  });
}

// ---- dashboard ------------------------------------------------------------------------
let chart = null;
const dash = { onlyIdle: false };

function renderCosts(c) {
  $("#stat-mtd").textContent = money(c.month_to_date_usd);
  $("#stat-7d").textContent = money(c.last_7_days_usd);
  $("#costs-asof").textContent = c.accounts ? `costs as of ${c.as_of}` : "no cost data yet";
  const labels = c.daily.map((d) => d.day.slice(5));
  const values = c.daily.map((d) => d.amount_usd);
  if (!chart) {
    chart = new Chart($("#cost-chart"), {
      type: "bar",
      data: { labels, datasets: [{ label: "USD per day", data: values, backgroundColor: "#6366f1", borderRadius: 6 }] },
      options: {
        maintainAspectRatio: false,
        animation: { duration: 900, easing: "easeOutQuart" },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => money(ctx.parsed.y) } } },
        scales: { y: { beginAtZero: true, ticks: { callback: (v) => "$" + v } } },
      },
    });
  } else {
    chart.data.labels = labels;
    chart.data.datasets[0].data = values;
    chart.update();
  }
  $("#by-service").innerHTML = c.by_service.length
    ? c.by_service.map((s) => `<li class="flex justify-between"><span>${esc(s.service)}</span><span class="font-mono">${money(s.amount_usd)}</span></li>`).join("")
    : '<li class="text-slate-500">No cost data yet.</li>';
}

function stateBadge(state) {
  const colours = { running: "bg-emerald-100 text-emerald-800", stopping: "bg-amber-100 text-amber-800", stopped: "bg-slate-200 text-slate-700", pending: "bg-sky-100 text-sky-800" };
  return `<span class="badge state ${colours[state] || "bg-slate-100 text-slate-700"}">${esc(state)}</span>`;
}

// The detector's verdict as people read it: "Idle · 87 %", "Provisional" or "Active" (the
// confidence is the verdict's, never the model's novelty score).
function verdictLabel(status, confidence) {
  if (status === "idle") return confidence == null ? "Idle" : `Idle · ${Math.round(confidence * 100)} %`;
  return status === "provisional" ? "Provisional" : "Active";
}

function verdictBadge(status, confidence) {
  const colours = { idle: "bg-amber-200 text-amber-900", provisional: "bg-sky-100 text-sky-800", active: "bg-slate-100 text-slate-600" };
  return `<span class="badge verdict ${colours[status] || colours.active}" data-status="${esc(status)}">${esc(verdictLabel(status, confidence))}</span>`;
}

const detailHref = (id) => `/instances/${encodeURIComponent(id)}`;

// Stop or Start as the state allows; "Not idle" beside Stop when the instance looks idle.
function actionButtons(i, looksIdle) {
  const id = esc(i.instance_id);
  if (i.state === "stopped") return `<button class="btn-ghost" data-action="start" data-instance-id="${id}">Start</button>`;
  if (i.state !== "running") return "";
  let html = i.stoppable
    ? `<button class="${looksIdle ? "btn-danger" : "btn-ghost"}" data-action="stop" data-instance-id="${id}">Stop</button>`
    : `<span class="text-xs text-slate-500" title="${esc(i.not_stoppable_reason)}">cannot stop</span>`;
  if (looksIdle) html += ` <button class="btn-ghost" data-action="not-idle" data-instance-id="${id}">Not idle</button>`;
  return html;
}

function instanceRow(i) {
  const idle = i.idle && i.state === "running";
  return `<tr data-instance-id="${esc(i.instance_id)}" class="${idle ? "idle bg-amber-50" : ""}">
    <td class="py-2 pr-3"><a class="detail-link font-medium text-indigo-700 hover:underline" href="${detailHref(i.instance_id)}">${esc(i.name || i.instance_id)}</a><div class="font-mono text-xs text-slate-500">${esc(i.instance_id)}</div>${idle && i.reason ? `<div class="text-xs text-amber-700">${esc(i.reason)}</div>` : ""}${idle ? `<div class="text-xs font-medium text-rose-700 sm:hidden">${esc(verdictLabel(i.status, i.confidence))} · ${money(i.monthly_waste_usd)}/mo</div>` : ""}</td>
    <td class="py-2 pr-3">${stateBadge(i.state)}</td>
    <td class="hidden py-2 pr-3 font-mono md:table-cell">${esc(i.instance_type)}</td>
    <td class="hidden py-2 pr-3 md:table-cell">${esc(i.region)}</td>
    <td class="hidden py-2 pr-3 sm:table-cell">${verdictBadge(i.status, i.confidence)}</td>
    <td class="hidden py-2 pr-3 lg:table-cell">${when(i.idle_since)}</td>
    <td class="hidden py-2 pr-3 text-right font-mono sm:table-cell ${idle ? "text-rose-700" : ""}">${idle ? money(i.monthly_waste_usd) : "–"}</td>
    <td class="hidden py-2 pr-3 lg:table-cell">${when(i.last_alert_at)}</td>
    <td class="whitespace-nowrap py-2 text-right">${actionButtons(i, idle)}</td>
  </tr>`;
}

function renderInstances(page) {
  $("#stat-idle").textContent = page.summary.idle;
  $("#stat-waste").textContent = money(page.summary.monthly_waste_usd);
  $("#instances-count").textContent = `${page.summary.total} total · ${page.summary.running} running`;
  $("#instances tbody").innerHTML = page.items.map(instanceRow).join("");
  $("#instances-empty").classList.toggle("hidden", page.items.length > 0);
}

function auditItems(items) {
  return items.length
    ? items.map((a) => `<li class="py-1.5" data-audit-id="${a.id}"><span class="font-medium">${esc(a.action)}</span> <span class="font-mono text-xs">${esc(a.instance_id || "")}</span> → ${esc(a.result)}${a.dry_run ? " (dry run)" : ""}<div class="text-xs text-slate-500">${when(a.at)} · ${esc(a.actor)}${a.reason ? " · " + esc(a.reason) : ""}</div></li>`).join("")
    : '<li class="py-1.5 text-slate-500">Nothing yet.</li>';
}

function renderAudit(page) {
  $("#audit").innerHTML = auditItems(page.items);
}

async function loadCosts() {
  const res = await api("GET", "/api/costs");
  if (res.ok) renderCosts(res.data);
}
async function loadInstances() {
  const res = await api("GET", "/api/instances?limit=200" + (dash.onlyIdle ? "&idle=true" : ""));
  if (res.ok) renderInstances(res.data);
}
async function loadAudit() {
  const res = await api("GET", "/api/audit?limit=20");
  if (res.ok) renderAudit(res.data);
}

// Stop, Start or Not idle through the API (CSRF header), then read what changed (`reload`).
async function instanceAction(button, reload) {
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
  await reload();
}

function connectFeed() {
  const status = $("#feed-status");
  const reload = () => { loadInstances(); loadAudit(); loadCosts(); };
  // The projector folds the same record into the store in parallel: read now, and once
  // more shortly after, so the row shows the record whichever side is faster.
  const refresh = debounce(() => { reload(); setTimeout(reload, 2000); }, 300);
  const source = new EventSource("/api/feed");
  source.addEventListener("ready", (ev) => {
    const kafka = JSON.parse(ev.data).kafka;
    status.textContent = kafka ? "live" : "live: waiting for Kafka";
    status.className = "badge " + (kafka ? "bg-emerald-100 text-emerald-800" : "bg-amber-100 text-amber-800");
  });
  source.addEventListener("error", () => { status.textContent = "live: reconnecting"; status.className = "badge bg-amber-100 text-amber-800"; });
  const show = (kind, text) => {
    const li = document.createElement("li");
    li.className = "rounded bg-slate-50 px-2 py-1";
    li.innerHTML = `<span class="badge bg-indigo-100 text-indigo-800">${kind}</span> ${text}`;
    $("#feed").prepend(li);
    while ($("#feed").children.length > 50) $("#feed").lastChild.remove();
  };
  source.addEventListener("detection", (ev) => {
    const d = JSON.parse(ev.data);
    show("detection", `<a class="font-mono text-indigo-700 hover:underline" href="${detailHref(d.instance_id)}">${esc(d.instance_id)}</a> ${verdictBadge(d.status, d.confidence)}`);
    refresh();
  });
  source.addEventListener("action", (ev) => {
    const a = JSON.parse(ev.data);
    const target = a.instance_id ? `<a class="font-mono text-indigo-700 hover:underline" href="${detailHref(a.instance_id)}">${esc(a.instance_id)}</a>` : "";
    show("action", `${esc(a.action)} ${target} → ${esc(a.result)}`);
    refresh();
  });
}

function initDashboard() {
  $("#instances").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) instanceAction(button, () => Promise.all([loadInstances(), loadAudit()]));
  });
  $("#only-idle").addEventListener("change", (ev) => { dash.onlyIdle = ev.target.checked; loadInstances(); });
  loadCosts();
  loadInstances();
  loadAudit();
  connectFeed();
  setInterval(() => { loadInstances(); loadCosts(); }, 60000);
}

// ---- instance page --------------------------------------------------------------------
const DAY_MS = 24 * 3600 * 1000;

function rate(bps) {
  if (bps == null) return "–";
  const units = ["B/s", "KB/s", "MB/s", "GB/s"];
  let v = Number(bps);
  let n = 0;
  while (v >= 1000 && n < units.length - 1) { v /= 1000; n += 1; }
  return `${v.toLocaleString("en-US", { maximumFractionDigits: v < 10 ? 1 : 0 })} ${units[n]}`;
}
const percent = (x) => (x == null ? "–" : `${Number(x).toFixed(1)} %`);

// One 14-day chart: the metric, the learned rest level (dashed) and the quiet runs (shaded
// from the axis up, on a hidden 0..1 scale of their own). Points sit on the series' grid.
function historyChart(canvasId, label, colour, values, rest, series, runs, format) {
  const start = Date.parse(series.start);
  const end = Date.parse(series.end);
  const step = series.period_s * 1000;
  const datasets = [
    { label, data: values.map((y, n) => ({ x: start + n * step, y })), borderColor: colour, backgroundColor: colour, borderWidth: 1, pointRadius: 0, spanGaps: false },
    { label: "Quiet runs", yAxisID: "quiet", data: runs.flatMap((r) => [{ x: Date.parse(r.start), y: 1 }, { x: Date.parse(r.end), y: 1 }, { x: Date.parse(r.end), y: null }]), fill: "origin", backgroundColor: "rgba(16, 185, 129, 0.18)", borderWidth: 0, pointRadius: 0, spanGaps: false },
  ];
  if (rest != null) {
    datasets.splice(1, 0, { label: "Rest level", data: [{ x: start, y: rest }, { x: end, y: rest }], borderColor: "#d97706", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 });
  }
  const old = Chart.getChart(canvasId);
  if (old) old.destroy();
  return new Chart($("#" + canvasId), {
    type: "line",
    data: { datasets },
    options: {
      parsing: false,
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      plugins: {
        tooltip: {
          filter: (item) => item.dataset.yAxisID !== "quiet",
          callbacks: { title: (items) => new Date(items[0].parsed.x).toLocaleString(), label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y)}` },
        },
      },
      scales: {
        x: { type: "linear", min: start, max: end, ticks: { stepSize: DAY_MS, maxTicksLimit: 8, callback: (v) => new Date(v).toLocaleDateString(undefined, { month: "short", day: "numeric" }) } },
        y: { beginAtZero: true, ticks: { callback: (v) => format(v) } },
        quiet: { display: false, min: 0, max: 1 },
      },
    },
  });
}

function renderDetail(d) {
  const i = d.instance;
  const v = d.verdict;
  $("#instance-state").innerHTML = stateBadge(i.state);
  $("#verdict-badge").innerHTML = verdictBadge(v.status, v.confidence);
  $("#verdict-reason").textContent = v.reason || (v.scored_at ? "" : "No verdict yet: the detector has not scored this instance.");
  $("#verdict-since").textContent = when(v.idle_since);
  $("#verdict-scored").textContent = when(v.scored_at);
  $("#verdict-rest").textContent = v.rest_cpu_percent == null || v.rest_network_bps == null
    ? "not learned yet"
    : `CPU ≤ ${percent(v.rest_cpu_percent)} and network ≤ ${rate(v.rest_network_bps)}`;
  $("#verdict-waste").textContent = v.status === "idle" ? money(i.monthly_waste_usd) : "–";
  $("#instance-facts").innerHTML = [["Type", i.instance_type], ["Region", i.region], ["Account", i.account_id], ["Last alert", when(i.last_alert_at)]]
    .map(([k, val]) => `<dt class="text-slate-500">${k}</dt><dd>${esc(val)}</dd>`).join("");
  $("#instance-actions").innerHTML = actionButtons(i, v.status !== "active");
  const s = d.series;
  $("#series-error").textContent = s.error || "";
  $("#series-error").classList.toggle("hidden", !s.error);
  historyChart("cpu-chart", "CPU", "#6366f1", s.cpu_percent, v.rest_cpu_percent, s, d.quiet_runs, percent);
  historyChart("network-chart", "Network in + out", "#0ea5e9", s.network_bps, v.rest_network_bps, s, d.quiet_runs, rate);
  $("#alerts").innerHTML = d.alerts.length
    ? d.alerts.map((m) => `<li class="py-1.5" data-email-id="${m.id}"><span class="font-medium">${esc(m.subject)}</span><div class="text-xs text-slate-500">${when(m.sent_at || m.reserved_at)} · ${esc(m.recipient)} · ${esc(m.status)}</div></li>`).join("")
    : '<li class="py-1.5 text-slate-500">No alert email named it yet.</li>';
  $("#instance-audit").innerHTML = auditItems(d.audit);
}

async function loadDetail(id) {
  const res = await api("GET", `/api/instances/${encodeURIComponent(id)}/detail`);
  $("#detail-error").textContent = res.ok ? "" : errorText(res);
  if (res.ok) renderDetail(res.data);
}

function initInstance() {
  const id = $("#instance").dataset.instanceId;
  $("#instance-actions").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) instanceAction(button, () => loadDetail(id));
  });
  loadDetail(id);
}

// ---- settings -------------------------------------------------------------------------
async function loadProfile() {
  const res = await api("GET", "/api/settings");
  if (!res.ok) return;
  const s = res.data;
  $("#organisation").value = s.organisation;
  $("#alert_email").value = s.alert_email_pending || s.alert_email || "";
  $("#alert-email-pending").textContent = s.alert_email_pending
    ? `${s.alert_email_pending}: pending confirmation (open the link we e-mailed it). Until then alerts go to ${s.alert_email || "your users' addresses"}.`
    : "";
  $("#autostop_enabled").checked = s.autostop.enabled;
  $("#autostop_scope").value = s.autostop.scope;
  $("#autostop_dry_run").checked = s.autostop.dry_run;
  $("#autostop_grace_minutes").value = s.autostop.grace_minutes;
  $("#autostop_max_per_hour").value = s.autostop.max_per_hour;
}

// Ceilings of rest: the API speaks bytes per second, the page KB/s; empty is the default (null).
async function loadCeilings() {
  const res = await api("GET", "/api/settings/ceilings");
  if (!res.ok) return;
  const c = res.data;
  $("#ceiling_cpu_percent").value = c.cpu_percent ?? "";
  $("#ceiling_network_kbps").value = c.network_bps == null ? "" : c.network_bps / 1000;
}

function ceilingValue(id, scale) {
  const v = $(id).value.trim();
  return v === "" ? null : Math.round(Number(v) * scale * 1000) / 1000;
}

function statusBadge(el, a) {
  const colours = { ok: "bg-emerald-100 text-emerald-800", error: "bg-rose-100 text-rose-800", pending: "bg-slate-100 text-slate-700" };
  el.className = "badge account-status " + (colours[a.status] || colours.pending);
  el.textContent = a.status;
}

async function renderAccount(a) {
  const node = $("#account-template").content.firstElementChild.cloneNode(true);
  node.dataset.accountId = a.account_id;
  $(".account-id", node).textContent = a.account_id;
  statusBadge($(".account-status", node), a);
  $(".account-role", node).textContent = a.role_arn || "";
  $(".account-external-id", node).textContent = a.external_id;
  $(".account-regions", node).textContent = a.regions.join(", ");
  if (a.status === "error" && a.status_message) {
    $(".test-result", node).className = "test-result text-sm text-rose-700";
    $(".test-result", node).textContent = a.status_message + (a.next_attempt_at ? ` (next attempt at ${when(a.next_attempt_at)})` : "");
  }
  const setup = await api("GET", `/api/accounts/${a.account_id}/setup`);
  if (setup.ok) {
    $(".console-link", node).href = setup.data.console_url;
    $(".cfn", node).textContent = setup.data.cloudformation_template;
    $(".cfn-download", node).href = "data:application/json;charset=utf-8," + encodeURIComponent(setup.data.cloudformation_template);
    $(".terraform", node).textContent = setup.data.terraform;
  }
  $(".test-connection", node).addEventListener("click", async (ev) => {
    ev.target.disabled = true;
    const out = $(".test-result", node);
    out.className = "test-result text-sm text-slate-600";
    out.textContent = "Assuming the role…";
    const res = await api("POST", `/api/accounts/${a.account_id}/test`);
    ev.target.disabled = false;
    if (res.ok && res.data.ok) {
      out.className = "test-result text-sm text-emerald-700";
    } else {
      out.className = "test-result text-sm text-rose-700";
    }
    out.textContent = res.ok ? res.data.message : errorText(res);
    if (res.ok) statusBadge($(".account-status", node), res.data.account);
  });
  $(".remove-account", node).addEventListener("click", async () => {
    if (!window.confirm(`Disconnect AWS account ${a.account_id}?`)) return;
    const res = await api("DELETE", `/api/accounts/${a.account_id}`);
    if (res.ok) node.remove();
  });
  return node;
}

async function loadAccounts() {
  const res = await api("GET", "/api/accounts");
  if (!res.ok) return;
  const box = $("#accounts");
  box.innerHTML = "";
  for (const a of res.data) box.append(await renderAccount(a));
}

function initSettings() {
  $("#profile-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#profile-error").textContent = "";
    $("#profile-ok").textContent = "";
    const body = {
      organisation: $("#organisation").value.trim(),
      alert_email: $("#alert_email").value.trim() || null,
      autostop: {
        enabled: $("#autostop_enabled").checked,
        scope: $("#autostop_scope").value,
        dry_run: $("#autostop_dry_run").checked,
        grace_minutes: Number($("#autostop_grace_minutes").value),
        max_per_hour: Number($("#autostop_max_per_hour").value),
      },
    };
    const res = await api("PUT", "/api/settings", body);
    if (res.ok) {
      $("#profile-ok").textContent = "Saved.";
      loadProfile();
    } else $("#profile-error").textContent = errorText(res);
  });
  $("#password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#password-error").textContent = "";
    $("#password-ok").textContent = "";
    const res = await api("POST", "/api/auth/password", { current_password: $("#current_password").value, new_password: $("#new_password").value });
    if (res.ok) {
      ev.target.reset();
      $("#password-ok").textContent = "Password changed: every other session is logged out.";
    } else $("#password-error").textContent = errorText(res);
  });
  $("#logout-all").addEventListener("click", async () => {
    if (!window.confirm("Log out every session of yours, this one too?")) return;
    await api("POST", "/api/auth/logout-all");
    window.location.href = "/login";
  });
  $("#ceilings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#ceilings-error").textContent = "";
    $("#ceilings-ok").textContent = "";
    const body = { cpu_percent: ceilingValue("#ceiling_cpu_percent", 1), network_bps: ceilingValue("#ceiling_network_kbps", 1000) };
    const res = await api("PUT", "/api/settings/ceilings", body);
    if (res.ok) $("#ceilings-ok").textContent = "Saved: the detector applies them from its next batch.";
    else $("#ceilings-error").textContent = errorText(res);
  });
  $("#account-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#account-error").textContent = "";
    const regions = $("#regions").value.split(",").map((r) => r.trim()).filter(Boolean);
    const res = await api("POST", "/api/accounts", { role_arn: $("#role_arn").value.trim(), regions });
    if (res.ok) {
      $("#role_arn").value = "";
      $("#accounts").prepend(await renderAccount(res.data));
    } else {
      $("#account-error").textContent = errorText(res);
    }
  });
  loadProfile();
  loadCeilings();
  loadAccounts();
}

// ---- monitoring -----------------------------------------------------------------------
async function initMonitoring() {
  const res = await api("GET", "/api/monitoring");
  if (!res.ok) return;
  const m = res.data;
  $("#prometheus-link").href = m.prometheus_url;
  $("#grafana-link").href = m.grafana_url;
  $("#figures").innerHTML = m.figures.map((f) => `<div class="card"><p class="text-xs uppercase text-slate-500">${esc(f.label)}</p><p class="mt-1 text-2xl font-semibold">${esc(f.value)}</p>${f.hint ? `<p class="text-xs text-slate-500">${esc(f.hint)}</p>` : ""}</div>`).join("");
  $("#account-health").innerHTML = m.accounts.length
    ? m.accounts.map((a) => `<li class="py-1.5"><span class="font-mono">${esc(a.account_id)}</span> <span class="badge ${a.status === "ok" ? "bg-emerald-100 text-emerald-800" : a.status === "error" ? "bg-rose-100 text-rose-800" : "bg-slate-100"}">${esc(a.status)}</span> <span class="text-xs text-slate-500">${esc(a.status_message || "")} ${a.status_at ? "· " + when(a.status_at) : ""}</span></li>`).join("")
    : '<li class="py-1.5 text-slate-500">No accounts connected.</li>';
}

// ---- demo mail view -------------------------------------------------------------------
async function initMail() {
  const res = await api("GET", "/api/demo/mail");
  const list = $("#mail-list");
  if (!res.ok) { list.innerHTML = `<li class="py-2 text-rose-700">${esc(errorText(res))}</li>`; return; }
  if (!res.data.messages.length) { list.innerHTML = '<li class="py-2 text-slate-500">No mail yet.</li>'; return; }
  list.innerHTML = res.data.messages.map((m, n) => `<li class="cursor-pointer py-2 hover:bg-slate-50" data-n="${n}"><div class="font-medium">${esc(m.subject)}</div><div class="text-xs text-slate-500">${esc(m.to.join(", "))} · ${when(m.sent_at)}</div></li>`).join("");
  list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-n]");
    if (!li) return;
    const m = res.data.messages[Number(li.dataset.n)];
    $("#mail-meta").textContent = `From ${m.source} to ${m.to.join(", ")} · ${when(m.sent_at)}`;
    $("#mail-body").srcdoc = m.html || `<pre>${esc(m.text)}</pre>`;
  });
  list.querySelector("li[data-n]").click();
}

// ---- every page -----------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const logout = $("#logout");
  if (logout) logout.addEventListener("click", async () => { await api("POST", "/api/auth/logout"); window.location.href = "/login"; });
  const page = document.body.dataset.page;
  if (page === "login") authForm("#login-form", "/api/auth/login", ["email", "password"]);
  if (page === "signup") authForm("#signup-form", "/api/auth/signup", ["organisation", "email", "password"]);
  if (page === "forgot") authForm("#forgot-form", "/api/auth/password/forgot", ["email"]);
  if (page === "reset") initReset();
  if (page === "dashboard") initDashboard();
  if (page === "instance") initInstance();
  if (page === "settings") initSettings();
  if (page === "monitoring") initMonitoring();
  if (page === "mail") initMail();
});
