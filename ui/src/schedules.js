// Dashboard → Off-hours schedules: the organisation's schedules (/api/schedules), each
// scheduled instance's next action (/api/schedules/next), the form that creates or replaces
// a schedule (admin) and the one that puts an instance on a schedule (operator).

import { $, $$, api, detailHref, errorText, esc, when } from "./common.js";

function periodText(p) {
  return `${p.days.join(", ")} ${p.start}–${p.end}`;
}

function scheduleItem(s) {
  const flags = [s.dry_run ? "dry run" : "", s.enabled ? "" : "off"].filter(Boolean).join(", ");
  return `<li class="py-2" data-schedule="${esc(s.name)}"><span class="font-medium">${esc(s.name)}</span>
    <span class="text-slate-600">${esc(s.periods.map(periodText).join("; "))} (${esc(s.time_zone)})</span>
    ${flags ? `<span class="badge bg-amber-100 text-amber-800">${esc(flags)}</span>` : ""}
    <span class="block text-xs text-slate-500">${s.instances} instance${s.instances === 1 ? "" : "s"}</span></li>`;
}

function nextText(a) {
  if (a.problem) return `cannot run: ${a.problem}`;
  if (a.override_until) return `started by hand: left running until ${when(a.override_until)}`;
  if (!a.action) return a.in_period ? "always running" : "always stopped";
  return `${a.action === "stop" ? "Stop" : "Start"} at ${when(a.at)}${a.dry_run ? " (dry run)" : ""}`;
}

function scheduledRow(a) {
  return `<tr data-instance="${esc(a.instance_id)}"><td class="py-1 pr-3"><a class="text-indigo-700 hover:underline" href="${detailHref(a.instance_id)}">${esc(a.instance_id)}</a></td>
    <td class="py-1 pr-3">${esc(a.schedule)} <span class="text-xs text-slate-500">(${a.source === "ui" ? "chosen here" : "by tag"})</span></td>
    <td class="py-1 pr-3 next-action">${esc(nextText(a))}</td><td class="py-1 text-slate-600">${esc(a.last_result || "–")}</td></tr>`;
}

async function load() {
  const [schedules, plan] = await Promise.all([api("GET", "/api/schedules"), api("GET", "/api/schedules/next")]);
  const failed = [schedules, plan].find((r) => !r.ok);
  $("#schedules-error").textContent = failed ? errorText(failed) : "";
  if (failed) return;
  $("#schedules").innerHTML = schedules.data.length
    ? schedules.data.map(scheduleItem).join("")
    : '<li class="py-2 text-slate-600">No schedules yet.</li>';
  $("#scheduled").innerHTML = plan.data.map(scheduledRow).join("")
    || '<tr><td class="py-1 text-slate-600" colspan="4">No instance is on a schedule.</td></tr>';
  const picked = $("#assign_schedule").value;
  $("#assign_schedule").innerHTML = '<option value="">none (its tag applies)</option>'
    + schedules.data.map((s) => `<option value="${esc(s.name)}">${esc(s.name)}</option>`).join("");
  $("#assign_schedule").value = picked;
}

function onSubmit(form, send) {
  const error = $(`#${form.id.replace("-form", "")}-error`);
  const ok = $(`#${form.id.replace("-form", "")}-ok`);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    ok.textContent = "";
    const [res, message] = await send();
    if (!res.ok) { error.textContent = errorText(res); return; }
    ok.textContent = message;
    await load();
  });
}

onSubmit($("#schedule-form"), async () => {
  const body = {
    name: $("#schedule_name").value.trim(),
    time_zone: $("#schedule_zone").value.trim(),
    periods: [{ days: $$("input[name=schedule_day]:checked").map((c) => c.value), start: $("#schedule_start").value.trim(), end: $("#schedule_end").value.trim() }],
    dry_run: $("#schedule_dry_run").checked,
  };
  const res = await api("PUT", "/api/schedules", body);
  return [res, res.status === 201 ? `schedule ${body.name} created` : `schedule ${body.name} saved`];
});

onSubmit($("#assign-form"), async () => {
  const instance = $("#assign_instance").value.trim();
  const schedule = $("#assign_schedule").value || null;
  const res = await api("PUT", `/api/instances/${encodeURIComponent(instance)}/schedule`, { schedule });
  return [res, schedule ? `${instance} now follows ${schedule}` : `${instance} follows its tag again`];
});

load();
