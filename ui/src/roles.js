// The logged-in member and their role (api.deps.ROLES), on every page behind a log-in: set
// as <body data-role>, where app.css hides what the role cannot use (the instance actions
// for a viewer, and any element marked data-needs="operator" or "admin"). The server
// refuses those calls anyway; this only spares people buttons that would answer 403.

import { api } from "./common.js";

export const RANK = { viewer: 0, operator: 1, admin: 2 };

// `/api/auth/me` once per page (an ES module runs once, whoever imports it): null when
// logged out.
export const me = api("GET", "/api/auth/me").then((res) => (res.ok ? res.data : null));

// Whether `member` (from `me`) has at least `role`.
export const may = (member, role) => Boolean(member) && RANK[member.role] >= RANK[role];

me.then((member) => {
  if (member) document.body.dataset.role = member.role;
});
