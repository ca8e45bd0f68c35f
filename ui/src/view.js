// The instance list's view (sort, order, search, filters, page size and page) and the two
// query strings made from it: the page's own URL, which a shared link restores, and the
// API's (`GET /api/instances`, and `/api/instances.csv` for the export).

// Each sort key with the order it starts in: most waste first, longest idle first, A to Z.
export const SORTS = { waste: "desc", idle_since: "asc", name: "asc", type: "asc", state: "asc" };
export const FILTERS = ["account", "region", "state", "verdict", "tag"];
export const PAGE_SIZES = [25, 50, 100]; // a page can be selected whole: bulk actions take 100
const DEFAULT_SORT = "waste";
const DEFAULT_LIMIT = 50;

// The first page of everything, most wasteful first. `cursor` is the page's keyset cursor
// (null: the first page) and `from` the position of its first row, for "x–y of total".
export function defaultView() {
  return {
    sort: DEFAULT_SORT,
    order: SORTS[DEFAULT_SORT],
    q: "",
    filters: Object.fromEntries(FILTERS.map((f) => [f, []])),
    limit: DEFAULT_LIMIT,
    cursor: null,
    from: 1,
  };
}

// The view a URL's query string describes; what it does not say (or says wrongly) stays default.
export function parseView(search) {
  const p = new URLSearchParams(search);
  const view = defaultView();
  const sort = p.get("sort");
  if (sort && Object.hasOwn(SORTS, sort)) view.sort = sort;
  const order = p.get("order");
  view.order = order === "asc" || order === "desc" ? order : SORTS[view.sort];
  view.q = p.get("q") || "";
  for (const f of FILTERS) view.filters[f] = p.getAll(f).filter((v) => v !== "");
  const limit = Number(p.get("limit"));
  if (PAGE_SIZES.includes(limit)) view.limit = limit;
  view.cursor = p.get("cursor") || null;
  view.from = view.cursor ? Math.max(1, Math.floor(Number(p.get("from"))) || 1) : 1;
  return view;
}

function filterParams(view, p) {
  if (view.q.trim()) p.set("q", view.q.trim());
  for (const f of FILTERS) for (const v of view.filters[f]) p.append(f, v);
}

// The page's query string: only what differs from the default view, so plain links stay short.
export function pageQuery(view) {
  const p = new URLSearchParams();
  if (view.sort !== DEFAULT_SORT) p.set("sort", view.sort);
  if (view.order !== SORTS[view.sort]) p.set("order", view.order);
  filterParams(view, p);
  if (view.limit !== DEFAULT_LIMIT) p.set("limit", String(view.limit));
  if (view.cursor) {
    p.set("cursor", view.cursor);
    p.set("from", String(view.from));
  }
  return p.toString();
}

// The API's query string for this page of the view (`paged: false`: the whole view, for
// the CSV export).
export function apiQuery(view, { paged = true } = {}) {
  const p = new URLSearchParams({ sort: view.sort, order: view.order });
  filterParams(view, p);
  if (paged) {
    p.set("limit", String(view.limit));
    if (view.cursor) p.set("cursor", view.cursor);
  }
  return p.toString();
}
