// Acting on rows: a checkbox per row and one for the page, the bar with the selection's
// count and waste a month, bulk Stop and Not idle (`POST /api/instances/bulk`: each instance
// through the same rails and audit, each answered on its own row), and a row's own buttons.
import { $, $$, api, errorText, instanceAction, money } from "./common.js";
import { showRowResult, wasteOf } from "./rows.js";

const VERBS = { stop: "Stop", "not-idle": "Not idle" };

// `instance(id)`: the instance a row of this page shows; `acted(ids)`: after any action.
export function initBulk({ instance, acted }) {
  const selected = new Set();
  const boxes = () => $$("#instances tbody .row-select");

  function show() {
    let waste = 0;
    for (const id of selected) waste += wasteOf(instance(id) || {});
    $("#bulk-summary").textContent = `${selected.size} selected · ${money(waste)}/mo`;
    for (const b of $$("#bulk-bar button")) b.disabled = selected.size === 0;
    const all = boxes();
    const box = $("#select-all");
    box.checked = all.length > 0 && selected.size === all.length;
    box.indeterminate = selected.size > 0 && selected.size < all.length;
  }

  function pick(box) {
    if (box.checked) selected.add(box.dataset.instanceId);
    else selected.delete(box.dataset.instanceId);
  }

  async function run(action) {
    const ids = [...selected];
    const status = $("#bulk-status");
    for (const b of $$("#bulk-bar button")) b.disabled = true;
    status.className = "text-sm text-slate-700";
    status.textContent = `${VERBS[action]}: ${ids.length} instance${ids.length === 1 ? "" : "s"}…`;
    const res = await api("POST", "/api/instances/bulk", { action, instance_ids: ids });
    if (!res.ok) {
      status.className = "text-sm text-rose-700";
      status.textContent = errorText(res);
      show();
      return;
    }
    const refused = [];
    for (const r of res.data.results) {
      const tr = $(`#instances tbody tr[data-instance-id="${CSS.escape(r.instance_id)}"]`);
      if (tr) showRowResult(tr, r.ok, r.message);
      if (!r.ok) refused.push(`${(instance(r.instance_id) || {}).name || r.instance_id}: ${r.message}`);
    }
    const done = res.data.results.length - refused.length;
    status.className = `text-sm ${refused.length ? "text-rose-700" : "text-emerald-700"}`;
    status.textContent = `${VERBS[action]}: ${done} done, ${refused.length} refused${refused.length ? ` (${refused.join("; ")})` : ""}.`;
    selected.clear();
    for (const b of boxes()) b.checked = false;
    show();
    await acted(ids);
  }

  $("#instances tbody").addEventListener("change", (ev) => {
    if (!ev.target.classList.contains("row-select")) return;
    pick(ev.target);
    show();
  });
  $("#select-all").addEventListener("change", (ev) => {
    for (const b of boxes()) {
      b.checked = ev.target.checked;
      pick(b);
    }
    show();
  });
  $("#bulk-stop").addEventListener("click", () => run("stop"));
  $("#bulk-not-idle").addEventListener("click", () => run("not-idle"));
  $("#bulk-clear").addEventListener("click", () => {
    selected.clear();
    for (const b of boxes()) b.checked = false;
    show();
  });

  return {
    show,
    // a new page: nothing on it is selected
    reset() {
      selected.clear();
      show();
    },
    // a row's own Stop, Start or Not idle
    one(button) {
      const id = button.dataset.instanceId;
      return instanceAction(button, () => acted([id]));
    },
  };
}
