"""Sign-up, log-in (rate limited), log-out and server-side sessions."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.logins import LoginCache
from api.security import DUMMY_HASH, Keys, hash_password, new_token, verify_password
from spendsense.settings import ApiSettings
from spendsense.store import throttle
from spendsense.store.models import Tenant, User
from spendsense.store.models.api import LoginSession
from spendsense.store.models.base import utcnow

# Attempts from one client address may reach this many times the per-e-mail limit.
CLIENT_LIMIT_FACTOR = 4


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


def _limited(wait: float | None, what: str) -> None:
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


def create_user(
    db: Session,
    settings: ApiSettings,
    email: str,
    password: str,
    organisation: str | None,
    client: str,
) -> User:
    """A new tenant with its first user; 409 when the e-mail is taken, 429 past the client
    address's sign-ups (counted before anything else, never given back)."""
    by_client = throttle.Budget("sign-up client", client, settings.signup_max_per_client)
    _limited(
        throttle.take(db, (by_client,), settings.signup_window_s),
        "sign-ups from your address",
    )
    email = email.lower()
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise ApiError(409, "email_taken", f"an account with {email} exists: log in instead")
    tenant = Tenant(
        id=f"t-{secrets.token_hex(8)}",
        name=organisation or email.split("@", 1)[1],
        alert_email=email,
    )
    user = User(tenant_id=tenant.id, email=email, password_hash=hash_password(password))
    db.add(tenant)
    db.flush()
    db.add(user)
    db.commit()
    return user


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
    _limited(wait, "log-ins")
    user = db.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else DUMMY_HASH, password) or user is None:
        raise ApiError(401, "bad_credentials", "wrong e-mail or password")
    throttle.forget(db, by_email, settings.login_window_s)
    throttle.give_back(db, by_client)
    db.commit()
    return user
