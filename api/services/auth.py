"""Log-in (rate limited), log-out, ending every session of a user, and server-side sessions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.logins import LoginCache
from api.security import DUMMY_HASH, Keys, new_token, verify_password
from spendsense.settings import ApiSettings
from spendsense.store import throttle
from spendsense.store.models import User
from spendsense.store.models.api import LoginSession
from spendsense.store.models.base import utcnow

# Attempts from one client address may reach this many times the per-e-mail limit.
CLIENT_LIMIT_FACTOR = 4
# Account mails (sign-up, password reset) one address may be sent per sign-up window.
MAILS_PER_ADDRESS = 5


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the cookie token (shown once) and its CSRF token."""

    token: str
    csrf_token: str
    user: User


def open_session(db: Session, keys: Keys, settings: ApiSettings, user: User) -> NewSession:
    """Create a fresh server-side session for ``user`` (a new id every time: no fixation)."""
    token = new_token()
    csrf = new_token()
    db.add(
        LoginSession(
            token_hash=keys.token_hash(token),
            user_id=user.id,
            tenant_id=user.tenant_id,
            csrf_token=csrf,
            expires_at=utcnow() + timedelta(hours=settings.session_ttl_hours),
        )
    )
    db.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
    db.commit()
    return NewSession(token=token, csrf_token=csrf, user=user)


def close_session(db: Session, token_hash: str, logins: LoginCache[Any] | None) -> None:
    """Delete one session (log-out, or the old session replaced at log-in); once committed,
    every API process forgets the logins it kept."""
    db.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))
    db.commit()
    if logins is not None:
        logins.revoke()


def limited(wait: float | None, what: str) -> None:
    """429 with ``Retry-After`` when a :func:`throttle.take` returned a wait."""
    if wait is None:
        return
    seconds = math.ceil(wait)
    raise ApiError(
        429,
        "rate_limited",
        f"too many {what}: try again in {math.ceil(seconds / 60)} minutes",
        headers={"Retry-After": str(seconds)},
    )


def end_sessions(db: Session, user_id: int, logins: LoginCache[Any] | None) -> None:
    """Delete every session of ``user_id`` (password change or reset, "log out
    everywhere"); once committed, every API process forgets the logins it kept."""
    db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    db.commit()
    if logins is not None:
        logins.revoke()


def take_mail_budgets(
    db: Session, settings: ApiSettings, kind: str, email: str, client: str
) -> None:
    """Count a request that mails ``email`` (a sign-up, a forgotten password) against the
    client address's and the address's budgets, before anything else; 429 past either."""
    budgets = (
        throttle.Budget(f"{kind} client", client, settings.signup_max_per_client),
        throttle.Budget(f"{kind} e-mail", email, MAILS_PER_ADDRESS),
    )
    limited(
        throttle.take(db, budgets, settings.signup_window_s),
        f"{kind}s from your address or for this e-mail address",
    )


def _login_budgets(
    settings: ApiSettings, email: str, client: str
) -> tuple[throttle.Budget, throttle.Budget, throttle.Budget]:
    """The limits a log-in counts against: its e-mail's and its client address's failures,
    and its client address's log-ins (successful ones too: each costs an argon2 hash)."""
    return (
        throttle.Budget("log-in e-mail", email, settings.login_max_failures),
        throttle.Budget("log-in client", client, settings.login_max_failures * CLIENT_LIMIT_FACTOR),
        throttle.Budget("log-ins client", client, settings.login_max_per_client),
    )


def authenticate(
    db: Session, settings: ApiSettings, email: str, password: str, client: str
) -> User:
    """The user whose password matches; 401 otherwise, 429 past the limits.

    The attempt is counted (and committed) before the password is checked, so guesses
    sent in parallel are all counted; a success gives its attempt back to the client and
    clears the e-mail's count.
    """
    email = email.lower()
    by_email, by_client, logins = _login_budgets(settings, email, client)
    wait = throttle.take(db, (by_email, by_client, logins), settings.login_window_s)
    limited(wait, "log-ins")
    user = db.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else DUMMY_HASH, password) or user is None:
        raise ApiError(401, "bad_credentials", "wrong e-mail or password")
    throttle.forget(db, by_email, settings.login_window_s)
    throttle.give_back(db, by_client)
    db.commit()
    return user
