"""The organisation's members: list (anyone), invite, change a role, remove (admins), and
the page behind an invite link (``/invite/<token>``: choose a password, join, log in).

As for the other mailed links, the invite page's GET only shows what the link does; its
POST (with the page's CSRF field) acts, once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import AdminLogin, ClientAddress, DbSession, MaybeLogin, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ErrorBody
from api.pages import failed_link_page, link_page
from api.routes.auth import log_in_to_dashboard
from api.schemas.common import Ok
from api.schemas.members import InviteRequest, Member, Members, RoleChange
from api.services import members as svc
from api.services.email_tokens import TokenError
from api.state import AppState

router = APIRouter(tags=["members"], responses=ERROR_RESPONSES)

Token = Annotated[str, Path(min_length=10, max_length=2000)]
MIN_PASSWORD = 10


@router.get("/api/members")
def list_members(login: ViewerLogin, db: DbSession) -> Members:
    """The people of your organisation with their roles, and the invites not yet used."""
    return svc.list_members(db, login.tenant_id)


@router.post("/api/members/invites", status_code=202, responses={503: {"model": ErrorBody}})
def invite(
    body: InviteRequest, login: AdminLogin, client: ClientAddress, state: StateDep, db: DbSession
) -> Ok:
    """Mail a single-use link (8 hours) that lets the address join as ``role``; a new
    invite to the same address replaces the old. 409 for a member already, 503 when the
    mail cannot be sent."""
    email = svc.invite(db, state, login, str(body.email), body.role, client)
    return Ok(message=f"invite mailed to {email}: the link works once, within 8 hours")


@router.put("/api/members/{user_id}")
def change_role(
    user_id: int, body: RoleChange, login: AdminLogin, state: StateDep, db: DbSession
) -> Member:
    """Change a member's role (409 when it would leave no admin)."""
    return svc.change_role(db, state, login, user_id, body.role)


@router.delete("/api/members/{user_id}")
def remove_member(user_id: int, login: AdminLogin, state: StateDep, db: DbSession) -> Ok:
    """Remove a member: their sessions end at once (409 for the only admin)."""
    email = svc.remove_member(db, state, login, user_id)
    return Ok(message=f"{email} removed; their sessions have ended")


def _invite_page(
    request: Request,
    state: AppState,
    db: DbSession,
    login: MaybeLogin,
    token: str,
    error: str = "",
    status_code: int = 200,
) -> Response:
    try:
        offer = svc.describe_invite(db, state, token)
    except TokenError as err:
        return failed_link_page(request, err.status, err.message)
    response = link_page(
        request,
        state,
        login,
        "invite.html",
        offer=offer,
        token=token,
        error=error,
        min_password=MIN_PASSWORD,
    )
    response.status_code = status_code
    return response


@router.get("/invite/{token}", response_class=HTMLResponse, include_in_schema=False)
def invite_page(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """Who invites whom, as what, and the form to choose a password (nothing happens on GET)."""
    return _invite_page(request, state, db, login, token)


@router.post("/invite/{token}", response_class=HTMLResponse, include_in_schema=False)
def accept_invite(
    token: Token,
    request: Request,
    state: StateDep,
    db: DbSession,
    login: MaybeLogin,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Use the link: the new member is created with the invite's role and logged in (to
    the dashboard); a too short password shows the form again."""
    if len(password) < MIN_PASSWORD:
        error = f"choose a password of at least {MIN_PASSWORD} characters"
        return _invite_page(request, state, db, login, token, error, 422)
    try:
        user = svc.accept_invite(db, state, token, password)
    except TokenError as err:
        db.rollback()
        return failed_link_page(request, err.status, err.message)
    return log_in_to_dashboard(db, state, login, user, "invite")
