"""Dependencies as ``Annotated`` aliases, as in the full-stack FastAPI template.

``DbSession`` is a store session per request; ``CurrentLogin`` the logged-in caller
(401 otherwise) whose ``tenant_id`` scopes every query; ``ViewerLogin``,
``OperatorLogin`` and ``AdminLogin`` the same, refused with 403 below that role
(:data:`ROLES`); :func:`csrf_protect` runs on every request and refuses a
state-changing one without the right CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from api.clients import request_client
from api.errors import ApiError
from api.security import tokens_match
from api.state import AppState
from spendsense.store.models import User
from spendsense.store.models.api import LoginSession
from spendsense.store.models.base import utcnow

# Who may do what, weakest first: a viewer reads; an operator also stops, starts and
# marks instances; an admin also changes accounts, policy, settings and members.
ROLES = ("viewer", "operator", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


async def get_state(request: Request) -> AppState:
    # async: no I/O here, and a sync dependency would cost a thread hop per request
    state: AppState = request.app.state.spendsense
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


@dataclass(frozen=True)
class Login:
    """The caller behind a valid session cookie."""

    user_id: int
    tenant_id: str
    email: str
    csrf_token: str
    token_hash: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this login's role is at least ``role``.

        >>> Login(1, "t", "a@example.com", "c", "h", role="operator").may("viewer")
        True
        >>> Login(1, "t", "a@example.com", "c", "h", role="operator").may("admin")
        False
        """
        return ROLES.index(self.role) >= ROLES.index(role)


def read_login(db: Session | Connection, token_hash: str) -> tuple[Login, datetime] | None:
    """The unexpired session with this token hash and its expiry, read from the store."""
    row = db.execute(
        select(
            LoginSession.csrf_token,
            LoginSession.tenant_id,
            LoginSession.expires_at,
            User.id,
            User.email,
            User.role,
        )
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash, LoginSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    login = Login(
        user_id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        csrf_token=row.csrf_token,
        token_hash=token_hash,
        role=row.role,
    )
    return login, row.expires_at


def find_login(state: AppState, db: Session | Connection, token: str | None) -> Login | None:
    """The login behind a session cookie's value, or ``None`` (absent, unknown, expired),
    read from the store (never from the kept logins)."""
    if not token:
        return None
    found = read_login(db, state.keys.token_hash(token))
    return found[0] if found else None


def find_login_now(state: AppState, request: Request) -> Login | None:
    """:func:`find_login` on a pooled connection of its own, returned at once."""
    token = request.cookies.get(state.settings.api.session_cookie)
    if not token:
        return None
    with state.engine.connect() as conn:
        return find_login(state, conn, token)


def read_login_now(state: AppState, token_hash: str) -> tuple[Login, datetime] | None:
    """:func:`read_login` on a pooled connection of its own, returned at once."""
    with state.engine.connect() as conn:
        return read_login(conn, token_hash)


async def optional_login(request: Request, state: StateDep) -> Login | None:
    """The caller's login, or ``None`` without a valid, unexpired session cookie.

    A login this process kept (``api.logins``: until its expiry or any log-out) is used
    on the event loop; otherwise one short store read in a worker thread. The route's
    own store session (if it takes one) is separate.
    """
    token = request.cookies.get(state.settings.api.session_cookie)
    if not token:
        return None
    token_hash = state.keys.token_hash(token)
    kept = state.logins
    epoch = 0
    if kept is not None:
        hit: Login | None = kept.get(token_hash)
        if hit is not None:
            return hit
        epoch = kept.epoch()  # before the read: a log-out committed after it bumps it
    found = await state.store_reads.run(read_login_now, state, token_hash)
    if found is None:
        return None
    if kept is not None:
        kept.put(token_hash, found[0], found[1], epoch)
    return found[0]


MaybeLogin = Annotated[Login | None, Depends(optional_login)]


async def require_login(login: MaybeLogin) -> Login:
    """The logged-in caller; 401 in the one error shape otherwise."""
    if login is None:
        raise ApiError(401, "not_authenticated", "log in first (no valid session cookie)")
    return login


CurrentLogin = Annotated[Login, Depends(require_login)]


class RoleCheck:
    """A dependency: the logged-in caller if their role is at least ``role``, else 403.

    Routes take it through the aliases below; the route-table test finds a route's
    role by looking for an instance of this class among its dependencies.
    """

    def __init__(self, role: str) -> None:
        self.role = role

    async def __call__(self, login: CurrentLogin) -> Login:
        if not login.may(self.role):
            raise ApiError(
                403,
                "role_required",
                f"this needs the {self.role} role (yours is {login.role}): ask an admin",
            )
        return login


ViewerLogin = Annotated[Login, Depends(RoleCheck("viewer"))]
OperatorLogin = Annotated[Login, Depends(RoleCheck("operator"))]
AdminLogin = Annotated[Login, Depends(RoleCheck("admin"))]

# The caller's address as the log-in limits count it (api.clients: proxies, IPv6 /64).
ClientAddress = Annotated[str, Depends(request_client)]


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header (JS) or the form field (HTML forms)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def csrf_protect(request: Request, state: StateDep) -> None:
    """Refuse a state-changing request whose CSRF token does not match.

    Logged in: the token must be the session's synchronizer token. Not logged in
    (sign-up, log-in, e-mailed link pages): double submit, the token must equal the
    signed ``csrf`` cookie. Safe methods return at once, without touching the store.
    """
    if request.method in SAFE_METHODS:
        return
    given = await submitted_csrf(request)
    login = await state.store_reads.run(find_login_now, state, request)
    if login is not None:
        expected: str | None = login.csrf_token
    else:
        cookie = request.cookies.get(state.settings.api.csrf_cookie)
        expected = cookie if cookie and state.keys.anonymous_csrf_valid(cookie) else None
    if not tokens_match(given, expected):
        raise ApiError(
            403,
            "csrf_failed",
            f"missing or wrong CSRF token: send the {CSRF_HEADER} header with the token "
            "from the csrf cookie",
        )
