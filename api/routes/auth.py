"""Sign up, log in, log out, who am I, and a CSRF token for clients without a page."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.cookies import clear_session, set_csrf, set_session
from api.deps import ClientAddress, CurrentLogin, DbSession, MaybeLogin, StateDep
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas.auth import CsrfToken, LoginRequest, Me, SignupRequest
from api.schemas.common import Ok
from api.services import auth
from spendsense.store.models import Tenant

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


def _me(db: DbSession, user_id: int, email: str, tenant_id: str, csrf: str) -> Me:
    tenant = db.get(Tenant, tenant_id)
    return Me(
        user_id=user_id,
        email=email,
        tenant_id=tenant_id,
        tenant_name=tenant.name if tenant else "",
        csrf_token=csrf,
    )


@router.get("/api/auth/csrf")
def csrf_token(state: StateDep, login: MaybeLogin, response: Response) -> CsrfToken:
    """The token to send with state-changing calls (sets the csrf cookie too)."""
    token = login.csrf_token if login else state.keys.new_anonymous_csrf()
    set_csrf(response, state.settings.api, token)
    return CsrfToken(csrf_token=token)


@router.post("/api/auth/signup", status_code=201)
def signup(
    body: SignupRequest,
    client: ClientAddress,
    state: StateDep,
    db: DbSession,
    login: MaybeLogin,
    response: Response,
) -> Me:
    """Create an organisation and its first user, and log in (429 past the client address's
    sign-ups)."""
    user = auth.create_user(
        db, state.settings.api, str(body.email), body.password, body.organisation, client
    )
    if login is not None:
        auth.close_session(db, login.token_hash, state.logins)
    opened = auth.open_session(db, state.keys, state.settings.api, user)
    set_session(response, state.settings.api, opened.token, opened.csrf_token)
    state.metrics.logins.labels(outcome="signup").inc()
    return _me(db, user.id, user.email, user.tenant_id, opened.csrf_token)


@router.post("/api/auth/login")
def login(
    body: LoginRequest,
    client: ClientAddress,
    state: StateDep,
    db: DbSession,
    current: MaybeLogin,
    response: Response,
) -> Me:
    """Log in: a new session id every time (the old one, if any, is closed)."""
    try:
        user = auth.authenticate(db, state.settings.api, str(body.email), body.password, client)
    except ApiError:
        state.metrics.logins.labels(outcome="refused").inc()
        raise
    if current is not None:
        auth.close_session(db, current.token_hash, state.logins)
    opened = auth.open_session(db, state.keys, state.settings.api, user)
    set_session(response, state.settings.api, opened.token, opened.csrf_token)
    state.metrics.logins.labels(outcome="ok").inc()
    return _me(db, user.id, user.email, user.tenant_id, opened.csrf_token)


@router.post("/api/auth/logout")
def logout(login: CurrentLogin, state: StateDep, db: DbSession, response: Response) -> Ok:
    """Close this session."""
    auth.close_session(db, login.token_hash, state.logins)
    clear_session(response, state.settings.api)
    set_csrf(response, state.settings.api, state.keys.new_anonymous_csrf())
    return Ok(message="logged out")


@router.get("/api/auth/me")
def me(login: CurrentLogin, db: DbSession) -> Me:
    """The logged-in user and the CSRF token of this session."""
    return _me(db, login.user_id, login.email, login.tenant_id, login.csrf_token)
