// The dashboard's instance list at any size: server-side pages (keyset cursors) of a view
// kept in the URL (Back and Forward walk the views), the toolbar that changes the view, and
// live changes applied to the visible rows in place: a row never moves under the user's
// cursor; a notice offers to put the page back in order.
import { $, $$, api, debounce, errorText, money } from "./common.js";
import { initBulk } from "./bulk.js";
import { instanceRow, patchRow, wasteOf } from "./rows.js";
import { FILTERS, SORTS, apiQuery, pageQuery, parseView } from "./view.js";

const SORT_NAMES = { waste: "waste a month", idle_since: "idle since", name: "name", type: "type", state: "state" };
const VERDICT_FIELDS = ["status", "confidence", "idle", "idle_since", "reason", "monthly_waste_usd", "scored_at"];

const list = {
  view: parseView(window.location.search),
  stack: [], // the cursors of the pages before this one, for Prev (kept in history.state)
  rows: new Map(), // instance id -> the instance as its row shows it
  next: null, // the next page's cursor
  seq: 0, // the newest request: an older answer arriving late is dropped
  changes: 0, // changes since the page was put in order
  painted: false,
  bulk: null,
};

const rowOf = (id) => $(`#instances tbody tr[data-instance-id="${CSS.escape(id)}"]`);

// `fresh`, unless its verdict is older than the one shown (the live feed can be ahead of
// the store): then the shown verdict stays.
function newer(shown, fresh) {
  if (!shown.scored_at || !fresh.scored_at || Date.parse(fresh.scored_at) >= Date.parse(shown.scored_at)) return fresh;
  const kept = { ...fresh };
  for (const f of VERDICT_FIELDS) kept[f] = shown[f];
  return kept;
}

function noteChange() {
  list.changes += 1;
  $("#order-notice").classList.remove("hidden");
  $("#order-changes").textContent = list.changes === 1 ? "1 change since this page was sorted." : `${list.changes} changes since this page was sorted.`;
}

// Show `fresh` in its row, if the row is on this page; a change that can move it counts.
function put(fresh) {
  const old = list.rows.get(fresh.instance_id);
  const tr = rowOf(fresh.instance_id);
  if (!old || !tr) return;
  const shown = newer(old, fresh);
  list.rows.set(shown.instance_id, shown);
  patchRow(tr, old, shown);
  list.bulk.show();
  if (old.status !== shown.status || wasteOf(old) !== wasteOf(shown) || old.state !== shown.state) noteChange();
}

// ---- the page ------------------------------------------------------------------------------
function renderSummary(s) {
  $("#stat-idle").textContent = s.idle;
  $("#stat-waste").textContent = money(s.monthly_waste_usd);
  $("#instances-count").textContent = `${s.total} total · ${s.running} running`;
}

function renderHeadings(view) {
  for (const th of $$("#instances thead th[data-sort]")) {
    const on = th.dataset.sort === view.sort;
    if (on) th.setAttribute("aria-sort", view.order === "asc" ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
    $(".sort-arrow", th).textContent = on ? (view.order === "asc" ? "▲" : "▼") : "";
  }
  const filtered = view.q.trim() || FILTERS.some((f) => view.filters[f].length);
  $("#instances-caption").textContent = `EC2 instances${filtered ? " matching the search and filters" : ""}, by ${SORT_NAMES[view.sort]}, ${view.order === "asc" ? "ascending" : "descending"}`;
}

function render(page) {
  const view = list.view;
  list.rows = new Map(page.items.map((i) => [i.instance_id, i]));
  list.next = page.next_cursor;
  list.changes = 0;
  $("#order-notice").classList.add("hidden");
  $("#instances tbody").innerHTML = page.items.map(instanceRow).join("");
  list.bulk.reset();
  renderSummary(page.summary);
  renderHeadings(view);
  const last = view.from + page.items.length - 1;
  $("#page-range").textContent = page.items.length ? `${view.from}–${last} of ${page.total}` : `0 of ${page.total}`;
  $("#page-prev").disabled = !view.cursor;
  $("#page-next").disabled = !page.next_cursor;
  $("#export-csv").href = "/api/instances.csv?" + apiQuery(view, { paged: false });
  $("#instances-empty").classList.toggle("hidden", page.summary.total > 0);
  $("#instances-none").classList.toggle("hidden", page.summary.total === 0 || page.items.length > 0);
  if (!list.painted) {
    list.painted = true;
    // the benchmark's mark (bench/first_paint.py): the first rows are on screen once the
    // frame after this one starts
    performance.mark("spendsense:rows-rendered");
    requestAnimationFrame(() => setTimeout(() => performance.mark("spendsense:rows-painted"), 0));
  }
}

// Read the view's page and show it; `history`: "push" a new entry, "replace" this one, or
// nothing (the URL already says it: the first load, Back and Forward).
async function load(history) {
  const seq = ++list.seq;
  if (history) {
    const url = window.location.pathname + (pageQuery(list.view) ? "?" + pageQuery(list.view) : "");
    window.history[history === "push" ? "pushState" : "replaceState"]({ stack: list.stack }, "", url);
  }
  $("#instances").setAttribute("aria-busy", "true");
  const res = await api("GET", "/api/instances?" + apiQuery(list.view));
  if (seq !== list.seq) return;
  $("#instances").removeAttribute("aria-busy");
  $("#list-error").textContent = res.ok ? "" : errorText(res);
  if (res.ok) render(res.data);
}

// ---- the toolbar -------------------------------------------------------------------------
function ensureOption(select, value) {
  if (value && !$$("option", select).some((o) => o.value === value)) select.add(new Option(value, value));
}

// The controls show the view (after a load from a link, Back or Forward).
function showView(view) {
  $("#search").value = view.q;
  $("#sort").value = view.sort;
  $("#order").value = view.order;
  $("#limit").value = String(view.limit);
  for (const f of FILTERS) {
    const control = $("#filter-" + f);
    const value = view.filters[f][0] || "";
    if (control.tagName === "SELECT") ensureOption(control, value);
    control.value = value;
  }
}

// A new view from the toolbar: back to its first page, one new history entry (`history`).
function change(edit, history = "push") {
  edit(list.view);
  showView(list.view); // a new sort brings its own order
  list.view.cursor = null;
  list.view.from = 1;
  list.stack = [];
  load(history);
}

// The account and region filters offer the connected accounts and their regions.
async function loadFilterOptions() {
  const res = await api("GET", "/api/accounts");
  if (!res.ok) return;
  const regions = new Set(res.data.flatMap((a) => a.regions));
  for (const a of res.data) ensureOption($("#filter-account"), a.account_id);
  for (const r of [...regions].sort()) ensureOption($("#filter-region"), r);
  showView(list.view);
}

// A text box changes the view as the user types (after a pause): one history entry per
// burst of typing, not one per pause.
function onTyping(input, apply) {
  let typing = false;
  input.addEventListener("input", debounce(() => {
    change(apply, typing ? "replace" : "push");
    typing = true;
  }, 300));
  input.addEventListener("blur", () => { typing = false; });
}

function initToolbar() {
  $("#list-toolbar").addEventListener("submit", (ev) => ev.preventDefault()); // Enter: typing applies already
  onTyping($("#search"), (v) => { v.q = $("#search").value; });
  onTyping($("#filter-tag"), (v) => { v.filters.tag = $("#filter-tag").value.trim() ? [$("#filter-tag").value.trim()] : []; });
  $("#sort").addEventListener("change", (ev) => change((v) => { v.sort = ev.target.value; v.order = SORTS[v.sort]; }));
  $("#order").addEventListener("change", (ev) => change((v) => { v.order = ev.target.value; }));
  $("#limit").addEventListener("change", (ev) => change((v) => { v.limit = Number(ev.target.value); }));
  for (const f of ["account", "region", "state", "verdict"]) {
    $("#filter-" + f).addEventListener("change", (ev) => change((v) => { v.filters[f] = ev.target.value ? [ev.target.value] : []; }));
  }
  // a column's heading sorts by it; again, the other way round
  $("#instances thead").addEventListener("click", (ev) => {
    const th = ev.target.closest("th[data-sort]");
    if (!th || !ev.target.closest("button")) return;
    const sort = th.dataset.sort;
    change((v) => {
      v.order = v.sort === sort ? (v.order === "asc" ? "desc" : "asc") : SORTS[sort];
      v.sort = sort;
    });
  });
  $("#page-next").addEventListener("click", () => {
    if (!list.next) return;
    list.stack.push(list.view.cursor);
    list.view.from += list.rows.size;
    list.view.cursor = list.next;
    load("push");
  });
  $("#page-prev").addEventListener("click", () => {
    // a page opened from a link has no stack: Prev goes back to the first page
    list.view.cursor = list.stack.length ? list.stack.pop() : null;
    list.view.from = list.view.cursor ? Math.max(1, list.view.from - list.view.limit) : 1;
    load("push");
  });
  $("#order-refresh").addEventListener("click", () => load(null));
  window.addEventListener("popstate", (ev) => {
    list.view = parseView(window.location.search);
    list.stack = (ev.state && ev.state.stack) || [];
    showView(list.view);
    load(null);
  });
}

// Arrow keys move between rows, onto the same control of the row above or below.
function initRowKeys() {
  const controls = (tr) => $$("input, a, button", tr);
  $("#instances tbody").addEventListener("keydown", (ev) => {
    if ((ev.key !== "ArrowDown" && ev.key !== "ArrowUp") || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const tr = ev.target.closest("tr");
    const other = tr && (ev.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling);
    if (!other) return;
    const there = controls(other);
    const target = there[Math.min(controls(tr).indexOf(ev.target), there.length - 1)];
    if (target) {
      ev.preventDefault();
      target.focus();
    }
  });
}

// ---- what the dashboard calls ------------------------------------------------------------
// Read instances again (after an action or an event) and show them in their rows.
export async function refreshRows(ids) {
  const shown = ids.filter((id) => list.rows.has(id));
  const answers = await Promise.all(shown.map((id) => api("GET", `/api/instances/${encodeURIComponent(id)}`)));
  for (const res of answers) if (res.ok) put(res.data);
}

// The tenant's counts for the stat cards (the API keeps them per projection change).
export async function refreshSummary() {
  const res = await api("GET", "/api/instances?limit=1");
  if (res.ok) renderSummary(res.data.summary);
}

// A detection from the live feed: its verdict, in its row if the row is on this page.
export function applyDetection(d) {
  const old = list.rows.get(d.instance_id);
  if (!old) return;
  put({ ...old, status: d.status, confidence: d.confidence, idle: d.status === "idle", idle_since: d.idle_since, reason: d.reason, monthly_waste_usd: d.monthly_waste_usd, scored_at: d.timestamp });
}

// This page read again in the background: its rows brought up to date where they are; a
// page whose order changed is left alone, with the notice.
export async function refreshPage() {
  const res = await api("GET", "/api/instances?" + apiQuery(list.view));
  if (!res.ok) return;
  const before = [...list.rows.keys()].join(" ");
  for (const i of res.data.items) put(i);
  renderSummary(res.data.summary);
  if (res.data.items.map((i) => i.instance_id).join(" ") !== before && !list.changes) noteChange();
}

// The list, its toolbar and its bulk bar; `acted(ids)` runs after any action on rows.
export function initInstances(acted) {
  list.stack = (window.history.state && window.history.state.stack) || [];
  list.bulk = initBulk({
    instance: (id) => list.rows.get(id),
    acted: async (ids) => { await refreshRows(ids); refreshSummary(); acted(ids); },
  });
  showView(list.view);
  initToolbar();
  initRowKeys();
  $("#instances").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) list.bulk.one(button);
  });
  const first = load(null);
  loadFilterOptions();
  return first;
}
