// Settings → Members: the organisation's people with their roles, pending invites, and for
// an admin the invite form, a role picker and a Remove button per member (/api/members).

import { $, api, errorText, esc, when } from "./common.js";
import { may, me } from "./roles.js";

const ROLES = ["viewer", "operator", "admin"];

function memberItem(m, self, admin) {
  const li = document.createElement("li");
  li.className = "flex flex-wrap items-center gap-2 py-2 text-sm";
  li.dataset.member = m.email;
  const options = ROLES.map((r) => `<option value="${r}" ${r === m.role ? "selected" : ""}>${r}</option>`).join("");
  const you = self ? ' <span class="text-xs text-slate-500">(you)</span>' : "";
  const role = admin
    ? `<select class="input w-auto py-1 member-role" aria-label="Role of ${esc(m.email)}">${options}</select>
       <button class="btn-ghost member-remove" type="button" aria-label="Remove ${esc(m.email)}">Remove</button>`
    : `<span class="badge bg-slate-100 text-slate-700 member-role-name">${esc(m.role)}</span>`;
  li.innerHTML = `<span class="mr-auto"><span class="font-medium">${esc(m.email)}</span>${you}
    <span class="block text-xs text-slate-500">joined ${esc(when(m.joined_at))}</span></span>${role}
    <span class="w-full text-xs member-message" role="status"></span>`;
  if (!admin) return li;
  const message = (res, ok) => {
    const p = $(".member-message", li);
    p.className = `w-full text-xs member-message ${res.ok ? "text-emerald-700" : "text-rose-700"}`;
    p.textContent = res.ok ? ok : errorText(res);
  };
  $(".member-role", li).addEventListener("change", async (ev) => {
    const res = await api("PUT", `/api/members/${m.user_id}`, { role: ev.target.value });
    message(res, `now ${ev.target.value}`);
    if (!res.ok) ev.target.value = m.role;
    else if (self) window.location.reload(); // your own role changed: the page's buttons too
    else m.role = res.data.role;
  });
  $(".member-remove", li).addEventListener("click", async (ev) => {
    if (!window.confirm(`Remove ${m.email}? Their sessions end at once.`)) return;
    ev.target.disabled = true;
    const res = await api("DELETE", `/api/members/${m.user_id}`);
    if (res.ok) li.remove();
    else { message(res, ""); ev.target.disabled = false; }
  });
  return li;
}

async function load(member) {
  const res = await api("GET", "/api/members");
  if (!res.ok) { $("#members-error").textContent = errorText(res); return; }
  const admin = may(member, "admin");
  $("#members").replaceChildren(...res.data.members.map((m) => memberItem(m, m.user_id === member.user_id, admin)));
  $("#invites").innerHTML = res.data.invites
    .map((i) => `<li>Invited: <span class="font-medium">${esc(i.email)}</span> as ${esc(i.role)}, until ${esc(when(i.expires_at))}</li>`)
    .join("");
}

async function initMembers() {
  const member = await me;
  if (!member) return;
  $("#members-role").textContent = may(member, "admin")
    ? "You are an admin."
    : `You are ${member.role === "operator" ? "an" : "a"} ${member.role}: an admin changes settings and members.`;
  const form = $("#invite-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#invite-error").textContent = "";
    $("#invite-ok").textContent = "";
    const res = await api("POST", "/api/members/invites", { email: $("#invite_email").value.trim(), role: $("#invite_role").value });
    if (!res.ok) { $("#invite-error").textContent = errorText(res); return; }
    $("#invite-ok").textContent = res.data.message;
    form.reset();
    await load(member);
  });
  await load(member);
}

initMembers();
