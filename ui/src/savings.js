// The savings ledger: the dashboard's "Saved this month" card and the /savings page, both
// reading /api/savings (money computed from prices and durations, up to now).

import { $, api, debounce, errorText, esc, money, when } from "./common.js";

// The projector folds an action into the ledger a moment after the live feed shows it:
// read now, then again shortly after, whichever side is faster.
function soonAndLater(fn) {
  return debounce(() => { fn(); setTimeout(fn, 2000); setTimeout(fn, 6000); }, 300);
}

// "$12.34 in total · saving $0.10/h now": what the stops in force add every hour
const rateNow = (s) => (s.saving_per_hour_usd > 0 ? `saving ${money(s.saving_per_hour_usd)}/h now` : "");
const savingNow = (s) => [`${money(s.total_usd)} in total`, rateNow(s)].filter(Boolean).join(" · ");

async function loadSavedCard() {
  const res = await api("GET", "/api/savings?limit=1");
  if (!res.ok) return;
  $("#stat-saved").textContent = money(res.data.this_month_usd);
  $("#stat-saved-total").textContent = savingNow(res.data);
}

function initSavedCard() {
  loadSavedCard();
  const again = soonAndLater(loadSavedCard);
  const feed = $("#feed");
  // every action the live feed lists (a stop, a start) may move the figure
  if (feed) {
    new MutationObserver((changes) => {
      if (changes.some((c) => [...c.addedNodes].some((n) => n.textContent.trim().startsWith("action")))) again();
    }).observe(feed, { childList: true });
  }
  setInterval(loadSavedCard, 60000);
}

const ACTION_KINDS = { stop: "Stop", schedule: "Schedule", delete: "Deletion" };

function figures(list, label) {
  if (!list.length) return '<li class="py-1 text-slate-500">nothing saved yet</li>';
  return list.map((b) => `<li class="flex justify-between gap-2 py-1"><span class="min-w-0 [overflow-wrap:anywhere]">${esc(label(b.key))}</span><span class="font-medium">${money(b.saved_usd)}</span></li>`).join("");
}

function entryRow(e) {
  const price = e.hourly_price_usd == null ? "unknown" : `${money(e.hourly_price_usd)}/h`;
  const until = e.ended_at ? `${when(e.ended_at)}<br><span class="text-xs text-slate-500">${esc(e.end_reason)}</span>` : '<span class="badge bg-emerald-100 text-emerald-800">saving</span>';
  return `<tr class="border-t border-slate-100 align-top">
    <td class="py-2 pr-3"><span class="font-mono">${esc(e.resource_id)}</span><br><span class="text-xs text-slate-500">${esc(e.resource_kind)}${e.account_id ? " · " + esc(e.account_id) : ""}</span></td>
    <td class="py-2 pr-3">${esc(ACTION_KINDS[e.action_kind] || e.action_kind)}</td>
    <td class="py-2 pr-3 [overflow-wrap:anywhere]">${esc(e.actor)}</td>
    <td class="py-2 pr-3">${when(e.started_at)}</td>
    <td class="py-2 pr-3">${until}</td>
    <td class="py-2 pr-3 text-right">${price}</td>
    <td class="py-2 pr-3 text-right">${e.hours.toFixed(1)}</td>
    <td class="py-2 text-right font-medium">${money(e.saved_usd)}</td>
  </tr>`;
}

async function initSavingsPage() {
  const more = $("#ledger-more");
  let before = null;
  const load = async () => {
    const res = await api("GET", "/api/savings?limit=50" + (before ? `&before_id=${before}` : ""));
    if (!res.ok) { $("#ledger-error").textContent = errorText(res); return; }
    const s = res.data;
    if (before === null) {
      $("#saved-month").textContent = money(s.this_month_usd);
      $("#saved-total").textContent = money(s.total_usd);
      $("#saved-rate").textContent = rateNow(s) || "nothing is saving right now";
      $("#saved-asof").textContent = `as of ${when(s.as_of)}`;
      $("#by-month").innerHTML = figures([...s.by_month].reverse(), (k) => k);
      $("#by-kind").innerHTML = figures(s.by_action_kind, (k) => ACTION_KINDS[k] || k);
      $("#by-actor").innerHTML = figures(s.by_actor, (k) => k);
      $("#ledger-body").innerHTML = "";
    }
    $("#ledger-body").insertAdjacentHTML("beforeend", s.items.map(entryRow).join(""));
    $("#ledger-empty").classList.toggle("hidden", $("#ledger-body").children.length > 0);
    before = s.next_before_id;
    more.classList.toggle("hidden", before === null);
  };
  more.addEventListener("click", load);
  await load();
}

document.addEventListener("DOMContentLoaded", () => {
  if ($("#stat-saved")) initSavedCard();
  if (document.body.dataset.page === "savings") initSavingsPage();
});
