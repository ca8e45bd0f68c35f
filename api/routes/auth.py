"""Sign up, log in, log out (here or everywhere), passwords, who am I, and a CSRF token
for clients without a page.

Sign-up and "forgot password" answer the same 202 for every address (each sends one
e-mail: a link, or a notice); the mailed links open pages in ``api.routes.mail_links``.
A password reset or change, and "log out everywhere", end every session of the user.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from api.cookies import clear_session, set_csrf, set_session
from api.deps import ClientAddress, DbSession, Login, MaybeLogin, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from api.schemas.auth import (
    CsrfToken,
    ForgotPassword,
    LoginRequest,
    Me,
    PasswordChange,
    PasswordReset,
    SignupRequest,
)
from api.schemas.common import Ok
from api.services import auth, passwords
from api.services import signup as signups
from api.services.email_tokens import TokenError
from api.state import AppState
from spendsense.store.models import Tenant, User

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


def _me(db: DbSession, user_id: int, email: str, tenant_id: str, csrf: str, role: str) -> Me:
    tenant = db.get(Tenant, tenant_id)
    return Me(
        user_id=user_id,
        email=email,
        tenant_id=tenant_id,
        tenant_name=tenant.name if tenant else "",
        csrf_token=csrf,
        role=role,
    )


@router.get("/api/auth/csrf")
def csrf_token(state: StateDep, login: MaybeLogin, response: Response) -> CsrfToken:
    """The token to send with state-changing calls (sets the csrf cookie too)."""
    token = login.csrf_token if login else state.keys.new_anonymous_csrf()
    set_csrf(response, state.settings.api, token)
    return CsrfToken(csrf_token=token)


MAIL_ERRORS: dict[int | str, dict[str, object]] = {503: {"model": ErrorBody}}


def log_in_fresh(db: DbSession, state: AppState, user: User, response: Response) -> Me:
    """Open a new session for ``user`` (cookies set on ``response``) and describe it."""
    opened = auth.open_session(db, state.keys, state.settings.api, user)
    set_session(response, state.settings.api, opened.token, opened.csrf_token)
    return _me(db, user.id, user.email, user.tenant_id, opened.csrf_token, user.role)


def log_in_to_dashboard(
    db: DbSession, state: AppState, current: Login | None, user: User, outcome: str
) -> RedirectResponse:
    """A mailed link's POST that makes a person (a sign-up, an accepted invite): whoever
    was logged in here is logged out, ``user`` is logged in and sent to the dashboard."""
    if current is not None:
        auth.close_session(db, current.token_hash, state.logins)
    response = RedirectResponse("/", status_code=303)
    log_in_fresh(db, state, user, response)
    state.metrics.logins.labels(outcome=outcome).inc()
    return response


@router.post("/api/auth/signup", status_code=202, responses=MAIL_ERRORS)
def signup(body: SignupRequest, client: ClientAddress, state: StateDep, db: DbSession) -> Ok:
    """Mail a link that confirms the address and creates the organisation and its first
    user. The same answer for every address (one that has an account is mailed a notice
    instead); 429 past the client address's or the address's sign-ups, 503 when the
    e-mail cannot be sent."""
    signups.request_signup(db, state, str(body.email), body.password, body.organisation, client)
    return Ok(message=signups.CHECK_MAIL)


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
    state.metrics.logins.labels(outcome="ok").inc()
    return log_in_fresh(db, state, user, response)


def _logged_out(state: AppState, response: Response, message: str) -> Ok:
    """No session cookie any more, an anonymous CSRF token for the log-in form."""
    clear_session(response, state.settings.api)
    set_csrf(response, state.settings.api, state.keys.new_anonymous_csrf())
    return Ok(message=message)


@router.post("/api/auth/logout")
def logout(login: ViewerLogin, state: StateDep, db: DbSession, response: Response) -> Ok:
    """Close this session."""
    auth.close_session(db, login.token_hash, state.logins)
    return _logged_out(state, response, "logged out")


@router.post("/api/auth/logout-all")
def logout_all(login: ViewerLogin, state: StateDep, db: DbSession, response: Response) -> Ok:
    """Close every session of this user, on every device (this one too)."""
    auth.end_sessions(db, login.user_id, state.logins)
    return _logged_out(state, response, "logged out everywhere")


@router.post("/api/auth/password/forgot", status_code=202, responses=MAIL_ERRORS)
def forgot_password(
    body: ForgotPassword, client: ClientAddress, state: StateDep, db: DbSession
) -> Ok:
    """Mail a reset link (valid 1 hour, once) if the address has an account; the same
    answer either way. 429 past the client address's or the address's requests."""
    passwords.forgot_password(db, state, str(body.email), client)
    return Ok(message=passwords.FORGOT_ANSWER)


@router.post("/api/auth/password/reset")
def reset_password(
    body: PasswordReset, state: StateDep, db: DbSession, current: MaybeLogin, response: Response
) -> Me:
    """Set a new password with a mailed reset link's token: every session of the user
    ends, and this caller is logged in afresh (410 for a used or expired link)."""
    try:
        user = passwords.reset_password(db, state, body.token, body.password)
    except TokenError as err:
        raise ApiError(err.status, f"link_{err.reason}", err.message) from None
    if current is not None:
        auth.close_session(db, current.token_hash, state.logins)
    state.metrics.logins.labels(outcome="reset").inc()
    return log_in_fresh(db, state, user, response)


@router.post("/api/auth/password")
def change_password(
    body: PasswordChange,
    login: ViewerLogin,
    client: ClientAddress,
    state: StateDep,
    db: DbSession,
    response: Response,
) -> Me:
    """Change your password (the current one is checked, counted like a log-in): every
    session of yours ends, and this one is replaced by a fresh one."""
    user = passwords.change_password(
        db, state, login, body.current_password, body.new_password, client
    )
    return log_in_fresh(db, state, user, response)


@router.get("/api/auth/me")
def me(login: ViewerLogin, db: DbSession) -> Me:
    """The logged-in user and the CSRF token of this session."""
    return _me(db, login.user_id, login.email, login.tenant_id, login.csrf_token, login.role)


@router.get("/api/auth/check", status_code=204, response_class=Response)
async def check(login: ViewerLogin, state: StateDep) -> Response:
    """204 for an operator's session (``api.operator_emails``), 403 for anyone else's, 401
    without one: nginx's ``auth_request`` for ``/grafana/`` and ``/prometheus/``
    (deploy/nginx). No store session of its own (a kept login, or one bounded read), and
    not queued behind the store's pool (api.limits): a page of Grafana asks once per file."""
    if not state.settings.api.is_operator(login.email):
        raise ApiError(
            403,
            "not_an_operator",
            "Prometheus and Grafana are for SpendSense's operators (api.operator_emails)",
        )
    return Response(status_code=204)
