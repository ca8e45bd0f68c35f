// One instance as a row of the dashboard's table, and the same row brought up to date in
// place (the live feed's changes), keeping its checkbox, its focus and any bulk result.
import { $, actionButtons, detailHref, esc, instanceName, money, stateBadge, verdictBadge, verdictLabel, when } from "./common.js";

// What an instance wastes a month as the table shows it: only an idle, running one wastes.
export const wasteOf = (i) => (i.idle && i.state === "running" ? Number(i.monthly_waste_usd || 0) : 0);

const looksIdle = (i) => i.idle && i.state === "running";

function nameCell(i) {
  const idle = looksIdle(i);
  return `<a class="detail-link font-medium text-indigo-700 hover:underline" href="${detailHref(i.instance_id)}">${esc(i.name || i.instance_id)}</a><div class="font-mono text-xs text-slate-600">${esc(i.instance_id)}</div>${idle && i.reason ? `<div class="text-xs text-amber-800">${esc(i.reason)}</div>` : ""}${idle ? `<div class="text-xs font-medium text-rose-700 sm:hidden">${esc(verdictLabel(i.status, i.confidence))} · ${money(i.monthly_waste_usd)}/mo</div>` : ""}`;
}

// The cells a change can touch, each by its class, with the HTML it shows.
const LIVE_CELLS = {
  "cell-name": nameCell,
  "cell-state": (i) => stateBadge(i.state),
  "cell-verdict": (i) => verdictBadge(i.status, i.confidence),
  "cell-since": (i) => esc(when(i.idle_since)),
  "cell-waste": (i) => (looksIdle(i) ? money(i.monthly_waste_usd) : "–"),
  "cell-alert": (i) => esc(when(i.last_alert_at)),
  "row-buttons": (i) => actionButtons(i, looksIdle(i)),
};

export function instanceRow(i) {
  const cell = (name) => LIVE_CELLS[name](i);
  return `<tr data-instance-id="${esc(i.instance_id)}" class="${looksIdle(i) ? "idle bg-amber-50" : ""}">
    <td class="py-2 pl-1 pr-2"><input type="checkbox" class="row-select h-4 w-4" data-instance-id="${esc(i.instance_id)}" aria-label="${esc(`Select ${instanceName(i)}`)}"></td>
    <th scope="row" class="cell-name py-2 pr-3 text-left font-normal">${cell("cell-name")}</th>
    <td class="cell-state py-2 pr-3">${cell("cell-state")}</td>
    <td class="hidden py-2 pr-3 font-mono md:table-cell">${esc(i.instance_type)}</td>
    <td class="hidden py-2 pr-3 md:table-cell">${esc(i.region)}</td>
    <td class="cell-verdict hidden py-2 pr-3 sm:table-cell">${cell("cell-verdict")}</td>
    <td class="cell-since hidden py-2 pr-3 lg:table-cell">${cell("cell-since")}</td>
    <td class="cell-waste hidden py-2 pr-3 text-right font-mono sm:table-cell ${looksIdle(i) ? "text-rose-700" : ""}">${cell("cell-waste")}</td>
    <td class="cell-alert hidden py-2 pr-3 lg:table-cell">${cell("cell-alert")}</td>
    <td class="py-2 text-right"><span class="row-buttons whitespace-nowrap">${cell("row-buttons")}</span><div class="row-result text-xs"></div></td>
  </tr>`;
}

// Bring `tr` from `old` up to date with `i` in place: only the cells whose HTML changed are
// rewritten, and a button that had the focus gets it back (the same action, else the row's
// checkbox).
export function patchRow(tr, old, i) {
  const focused = tr.contains(document.activeElement) ? document.activeElement : null;
  for (const [name, html] of Object.entries(LIVE_CELLS)) {
    const fresh = html(i);
    if (fresh !== html(old)) $("." + name, tr).innerHTML = fresh;
  }
  tr.classList.toggle("idle", looksIdle(i));
  tr.classList.toggle("bg-amber-50", looksIdle(i));
  $(".cell-waste", tr).classList.toggle("text-rose-700", looksIdle(i));
  if (focused && !focused.isConnected) {
    const again = focused.dataset.action && $(`button[data-action="${focused.dataset.action}"]`, tr);
    (again || $(".row-select", tr)).focus();
  }
}

// A row's line beside its buttons: what a bulk action did to it, in words and colour.
export function showRowResult(tr, ok, text) {
  const out = $(".row-result", tr);
  out.className = `row-result text-xs ${ok ? "text-emerald-700" : "text-rose-700"}`;
  out.textContent = `${ok ? "✓" : "✗ Refused:"} ${text}`;
}
