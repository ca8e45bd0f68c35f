// The dashboard page: cost cards and chart, the instance list (instances.js), the audit log
// and the live feed (Server-Sent Events from /api/feed), whose events update the visible
// rows in place.
import { $, api, auditItems, debounce, detailHref, esc, money, verdictBadge } from "./common.js";
import { applyDetection, initInstances, refreshPage, refreshRows, refreshSummary } from "./instances.js";

let chart = null;
let chartLibrary = null;

// Chart.js, fetched once the costs are in: the instance list paints without waiting for it.
function loadChartLibrary() {
  chartLibrary ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/chart.umd.min.js";
    script.onload = resolve;
    script.onerror = () => reject(new Error("could not load /static/chart.umd.min.js"));
    document.head.append(script);
  });
  return chartLibrary;
}

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
    : '<li class="text-slate-600">No cost data yet.</li>';
}

async function loadCosts() {
  const res = await api("GET", "/api/costs");
  if (!res.ok) return;
  await loadChartLibrary();
  renderCosts(res.data);
}

async function loadAudit() {
  const res = await api("GET", "/api/audit?limit=20");
  if (res.ok) $("#audit").innerHTML = auditItems(res.data.items);
}

// The projector folds the same records into the store in parallel: what is read from the
// store is read now and once more shortly after, so it shows them whichever side is faster.
function twice(fn) {
  return debounce(() => { fn(); setTimeout(fn, 2000); }, 300);
}

function connectFeed() {
  const status = $("#feed-status");
  const counts = twice(() => { refreshSummary(); loadAudit(); });
  const acted = new Set();
  const rows = debounce(() => {
    const ids = [...acted];
    acted.clear();
    refreshRows(ids);
    setTimeout(() => refreshRows(ids), 2000);
  }, 300);
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
    applyDetection(d);
    counts();
  });
  source.addEventListener("action", (ev) => {
    const a = JSON.parse(ev.data);
    const target = a.instance_id ? `<a class="font-mono text-indigo-700 hover:underline" href="${detailHref(a.instance_id)}">${esc(a.instance_id)}</a>` : "";
    show("action", `${esc(a.action)} ${target} → ${esc(a.result)}`);
    if (a.instance_id) {
      acted.add(a.instance_id);
      rows();
    }
    counts();
  });
}

export function initDashboard() {
  initInstances(() => loadAudit());
  loadCosts();
  loadAudit();
  connectFeed();
  setInterval(() => { refreshPage(); loadCosts(); }, 60000);
}
