// SpendSense: every page's behaviour, calling the JSON API (no framework); an ES module,
// as are the modules it imports (the dashboard's in dashboard.js).

import { $, actionButtons, api, auditItems, errorText, esc, instanceAction, money, stateBadge, verdictBadge, when } from "./common.js";
import { initDashboard } from "./dashboard.js";

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
// Usage anomalies are shaded too (red, on the same hidden scale), from since to their end
// (the series' end while one lasts).
function historyChart(canvasId, label, colour, values, rest, series, runs, format, anomalies) {
  const start = Date.parse(series.start);
  const end = Date.parse(series.end);
  const step = series.period_s * 1000;
  const datasets = [
    { label, data: values.map((y, n) => ({ x: start + n * step, y })), borderColor: colour, backgroundColor: colour, borderWidth: 1, pointRadius: 0, spanGaps: false },
    { label: "Quiet runs", yAxisID: "quiet", data: runs.flatMap((r) => [{ x: Date.parse(r.start), y: 1 }, { x: Date.parse(r.end), y: 1 }, { x: Date.parse(r.end), y: null }]), fill: "origin", backgroundColor: "rgba(16, 185, 129, 0.18)", borderWidth: 0, pointRadius: 0, spanGaps: false },
  ];
  if (anomalies.length) {
    const span = (a) => [Date.parse(a.since), a.ended_at ? Date.parse(a.ended_at) : end];
    datasets.push({ label: "Anomalies", yAxisID: "quiet", data: anomalies.flatMap((a) => { const [from, to] = span(a); return [{ x: from, y: 1 }, { x: to, y: 1 }, { x: to, y: null }]; }), fill: "origin", backgroundColor: "rgba(225, 29, 72, 0.18)", borderWidth: 0, pointRadius: 0, spanGaps: false });
  }
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

// An anomaly's values are in its metric's unit: CPU percent, or network bytes per period.
const METRICS = { cpu_percent: "CPU", network_in_bytes: "Network in", network_out_bytes: "Network out" };
function anomalyValue(a, x, periodS) {
  return a.metric === "cpu_percent" ? percent(x) : rate(x / periodS);
}
// Its dollar rate and how it was priced, or why it has no direct cost (as the e-mail says it).
function anomalyRate(a) {
  if (a.dollars_per_hour == null) return a.cost_basis || "no direct cost";
  // while it goes on, per month; once it ended, what it cost in all
  const hours = a.ended_at ? (Date.parse(a.ended_at) - Date.parse(a.since)) / 3600000 : null;
  const rate = hours == null
    ? `${money(a.dollars_per_hour)}/hour (about ${money(a.dollars_per_hour * 730)}/month)`
    : `${money(a.dollars_per_hour)}/hour while it lasted (${hours < 2 ? `${Math.round(hours * 60)} minutes` : `${hours.toFixed(1)} hours`}: about ${money(a.dollars_per_hour * hours)} in all)`;
  return a.cost_basis ? `${rate}: ${a.cost_basis}` : rate;
}
function anomalyItems(anomalies, periodS) {
  if (!anomalies.length) return '<li class="py-1.5 text-slate-500">None seen: every metric kept to its learned pattern.</li>';
  return anomalies.map((a) => `<li class="py-1.5 anomaly" data-incident-id="${esc(a.incident_id)}">
    <span class="font-medium">${esc(METRICS[a.metric] || a.metric)} ${a.direction === "up" ? "up" : "down"}</span>
    <span class="text-slate-500">${when(a.since)} – ${a.ended_at ? when(a.ended_at) : "now"}</span>
    <div class="text-xs text-slate-600">observed <span class="anomaly-observed">${esc(anomalyValue(a, a.observed, periodS))}</span>, expected <span class="anomaly-expected">${esc(anomalyValue(a, a.expected_low, periodS))} to ${esc(anomalyValue(a, a.expected_high, periodS))}</span> · <span class="anomaly-rate">${esc(anomalyRate(a))}</span></div></li>`).join("");
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
  const cpuAnomalies = d.anomalies.filter((a) => a.metric === "cpu_percent");
  const networkAnomalies = d.anomalies.filter((a) => a.metric !== "cpu_percent");
  historyChart("cpu-chart", "CPU", "#6366f1", s.cpu_percent, v.rest_cpu_percent, s, d.quiet_runs, percent, cpuAnomalies);
  historyChart("network-chart", "Network in + out", "#0ea5e9", s.network_bps, v.rest_network_bps, s, d.quiet_runs, rate, networkAnomalies);
  $("#anomalies").innerHTML = anomalyItems(d.anomalies, s.period_s || 300);
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
  $("#waste_enabled").checked = s.waste.enabled;
  $("#waste_dry_run").checked = s.waste.dry_run;
  $("#waste_max_per_hour").value = s.waste.max_per_hour;
}

// Ceilings of rest: the API speaks bytes per second, the page KB/s; empty is the default (null).
async function loadCeilings() {
  const res = await api("GET", "/api/settings/ceilings");
  if (!res.ok) return;
  const c = res.data;
  $("#ceiling_cpu_percent").value = c.cpu_percent ?? "";
  $("#ceiling_network_kbps").value = c.network_bps == null ? "" : c.network_bps / 1000;
}

// Which usage anomalies alert: the API speaks dollars per hour; the page shows a month too.
function anomalyMonth() {
  const perHour = Number($("#anomaly_alerts_min").value || 0);
  $("#anomaly-alerts-month").textContent = `about ${money(perHour * 730)} a month (730 hours)`;
}

async function loadAnomalyAlerts() {
  const res = await api("GET", "/api/settings/anomaly-alerts");
  if (!res.ok) return;
  $("#anomaly_alerts_mode").value = res.data.mode;
  $("#anomaly_alerts_min").value = res.data.min_usd_per_hour;
  anomalyMonth();
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
      waste: {
        enabled: $("#waste_enabled").checked,
        dry_run: $("#waste_dry_run").checked,
        max_per_hour: Number($("#waste_max_per_hour").value),
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
  $("#anomaly_alerts_min").addEventListener("input", anomalyMonth);
  $("#anomaly-alerts-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#anomaly-alerts-error").textContent = "";
    $("#anomaly-alerts-ok").textContent = "";
    const body = { mode: $("#anomaly_alerts_mode").value, min_usd_per_hour: Number($("#anomaly_alerts_min").value || 0) };
    const res = await api("PUT", "/api/settings/anomaly-alerts", body);
    if (res.ok) $("#anomaly-alerts-ok").textContent = "Saved: the next digest follows it.";
    else $("#anomaly-alerts-error").textContent = errorText(res);
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
  loadAnomalyAlerts();
  loadAccounts();
}

// ---- monitoring -----------------------------------------------------------------------
async function initMonitoring() {
  const res = await api("GET", "/api/monitoring");
  if (!res.ok) return;
  const m = res.data;
  // operators only: null for everyone else, and the link stays hidden
  for (const [id, href] of [["#prometheus-link", m.prometheus_link], ["#grafana-link", m.grafana_link]]) {
    if (href) $(id).href = href;
    $(id).classList.toggle("hidden", !href);
  }
  renderPipeline(m.pipeline);
  $("#figures").innerHTML = m.figures.map((f) => `<div class="card"><p class="text-xs uppercase text-slate-500">${esc(f.label)}</p><p class="mt-1 text-2xl font-semibold">${esc(f.value)}</p>${f.hint ? `<p class="text-xs text-slate-500">${esc(f.hint)}</p>` : ""}</div>`).join("");
  $("#account-health").innerHTML = m.accounts.length
    ? m.accounts.map((a) => `<li class="py-1.5"><span class="font-mono">${esc(a.account_id)}</span> <span class="badge ${a.status === "ok" ? "bg-emerald-100 text-emerald-800" : a.status === "error" ? "bg-rose-100 text-rose-800" : "bg-slate-100"}">${esc(a.status)}</span> <span class="text-xs text-slate-500">${esc(a.status_message || "")} ${a.status_at ? "· " + when(a.status_at) : ""}</span></li>`).join("")
    : '<li class="py-1.5 text-slate-500">No accounts connected.</li>';
}

// The pipeline's health from the API's Prometheus queries, or the one line saying why not.
function renderPipeline(p) {
  $("#pipeline-unreachable").textContent = p.reachable ? "" : p.message;
  $("#pipeline-unreachable").classList.toggle("hidden", p.reachable);
  $("#pipeline").classList.toggle("hidden", !p.reachable);
  if (!p.reachable) return;
  const row = (name, value, mono = true) => `<li class="py-1"><span class="${mono ? "font-mono" : ""}">${esc(name)}</span> <span class="float-right">${esc(value)}</span></li>`;
  const lag = (l) => (l.value === null ? "–" : `${Math.round(l.value).toLocaleString()} ${l.unit}`);
  $("#consumer-lag").innerHTML = p.consumer_lag.map((l) => row(l.group, lag(l))).join("");
  $("#last-collection").innerHTML = p.last_collection.length
    ? p.last_collection.map((c) => row(c.account_id, c.at ? when(c.at) : "not yet")).join("")
    : '<li class="py-1 text-slate-500">No accounts connected.</li>';
  $("#error-rates").innerHTML = p.error_rates.map((e) => row(e.label, e.per_minute.toFixed(2), false)).join("");
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
