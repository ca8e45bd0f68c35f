"""Dependencies as ``Annotated`` aliases, as in the full-stack FastAPI template.

``DbSession`` is a store session per request; ``CurrentLogin`` the logged-in caller
(401 otherwise) whose ``tenant_id`` scopes every query; :func:`csrf_protect` runs on
every request and refuses a state-changing one without the right CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.security import tokens_match
from api.state import AppState
from spendsense.store.models import User
from spendsense.store.models.api import LoginSession
from spendsense.store.models.base import utcnow

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


def find_login(state: AppState, db: Session, token: str | None) -> Login | None:
    """The login behind a session cookie's value, or ``None`` (absent, unknown, expired)."""
    if not token:
        return None
    token_hash = state.keys.token_hash(token)
    row = db.execute(
        select(LoginSession.csrf_token, LoginSession.tenant_id, User.id, User.email)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash, LoginSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    return Login(
        user_id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        csrf_token=row.csrf_token,
        token_hash=token_hash,
    )


def find_login_now(state: AppState, request: Request) -> Login | None:
    """:func:`find_login` in a session of its own, closed at once (for long-lived responses)."""
    with state.sessions() as db:
        return find_login(state, db, request.cookies.get(state.settings.api.session_cookie))


def optional_login(request: Request, state: StateDep, db: DbSession) -> Login | None:
    """The caller's login, or ``None`` without a valid, unexpired session cookie."""
    return find_login(state, db, request.cookies.get(state.settings.api.session_cookie))


MaybeLogin = Annotated[Login | None, Depends(optional_login)]


async def require_login(login: MaybeLogin) -> Login:
    """The logged-in caller; 401 in the one error shape otherwise."""
    if login is None:
        raise ApiError(401, "not_authenticated", "log in first (no valid session cookie)")
    return login


CurrentLogin = Annotated[Login, Depends(require_login)]


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
    login = await run_in_threadpool(find_login_now, state, request)
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
