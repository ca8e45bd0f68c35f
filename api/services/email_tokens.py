"""Single-use, expiring tokens in mailed links (``email_tokens``): sign-up confirmation,
password reset, alert-address confirmation, an invite to join an organisation.

The link carries a random token; the store keeps its keyed hash (``Keys.token_hash`` of
kind ``mail``, so a mailed token never opens a session), the address it was mailed to and
what using it does. :func:`consume` marks a token used with one conditional ``UPDATE``,
so of two requests racing with one link, one wins.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from api.security import Keys, new_token
from spendsense.store.models import EmailToken, utcnow

Purpose = Literal["signup", "reset", "alert", "invite"]

# A day to confirm a sign-up or an alert address; an hour to use a reset link; 8 hours
# to accept an invite (like the alert e-mails' links).
LIFETIME: dict[Purpose, timedelta] = {
    "signup": timedelta(hours=24),
    "reset": timedelta(hours=1),
    "alert": timedelta(hours=24),
    "invite": timedelta(hours=8),
}
# Where each link opens (a GET shows a page, only a POST acts: mail scanners follow links).
PATH: dict[Purpose, str] = {
    "signup": "/verify/",
    "reset": "/reset/",
    "alert": "/verify/",
    "invite": "/invite/",
}
HASH_KIND = "mail"
# Rows past their expiry by this long go at the next issue (the used/expired answers
# stay accurate for a while).
KEEP_EXPIRED = timedelta(days=7)


class TokenError(Exception):
    """A mailed link that cannot be used: ``reason`` is ``unknown``, ``used``, ``expired``,
    ``taken`` (the address got an account meanwhile) or ``stale``."""

    STATUS = {"unknown": 404, "used": 410, "expired": 410, "taken": 409, "stale": 409}

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def status(self) -> int:
        return self.STATUS.get(self.reason, 400)


def issue(
    db: Session,
    keys: Keys,
    purpose: Purpose,
    email: str,
    *,
    password_hash: str | None = None,
    organisation: str | None = None,
    user_id: int | None = None,
    tenant_id: str | None = None,
    role: str | None = None,
) -> str:
    """Add a token for ``purpose`` mailed to ``email`` (flushed, not committed); returns
    the link path with the token (``/verify/<token>``), shown once."""
    now = utcnow()
    db.execute(delete(EmailToken).where(EmailToken.expires_at <= now - KEEP_EXPIRED))
    token = new_token()
    db.add(
        EmailToken(
            token_hash=keys.token_hash(token, HASH_KIND),
            purpose=purpose,
            email=email,
            password_hash=password_hash,
            organisation=organisation,
            user_id=user_id,
            tenant_id=tenant_id,
            role=role,
            created_at=now,
            expires_at=now + LIFETIME[purpose],
        )
    )
    db.flush()
    return PATH[purpose] + token


def find(db: Session, keys: Keys, token: str, purposes: Collection[str]) -> EmailToken:
    """The unused, unexpired token of one of ``purposes``; :class:`TokenError` otherwise."""
    row = db.get(EmailToken, keys.token_hash(token, HASH_KIND))
    if row is None or row.purpose not in purposes:
        raise TokenError("unknown", "this link is not valid: ask for a new one")
    if row.used_at is not None:
        raise TokenError("used", "this link was used already: each link works once")
    if row.expires_at <= utcnow():
        raise TokenError("expired", "this link has expired: ask for a new one")
    return row


def consume(db: Session, row: EmailToken) -> None:
    """Mark ``row`` used (not committed); :class:`TokenError` when another request used it
    first (one conditional ``UPDATE``: of racing requests, one wins)."""
    done = db.execute(
        update(EmailToken)
        .where(EmailToken.token_hash == row.token_hash, EmailToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenError("used", "this link was used already: each link works once")


def _unused(
    purpose: Purpose, email: str | None, user_id: int | None, tenant_id: str | None
) -> list[ColumnElement[bool]]:
    """The conditions picking the unused tokens of ``purpose`` for what is given."""
    where = [EmailToken.purpose == purpose, EmailToken.used_at.is_(None)]
    if email is not None:
        where.append(EmailToken.email == email)
    if user_id is not None:
        where.append(EmailToken.user_id == user_id)
    if tenant_id is not None:
        where.append(EmailToken.tenant_id == tenant_id)
    return where


def forget_unused(
    db: Session,
    purpose: Purpose,
    *,
    email: str | None = None,
    user_id: int | None = None,
    tenant_id: str | None = None,
) -> None:
    """Delete the unused tokens of ``purpose`` for an address, a user or a tenant (links
    made useless: a sign-up that happened, a password set since, another alert address)."""
    db.execute(delete(EmailToken).where(*_unused(purpose, email, user_id, tenant_id)))


def waiting(db: Session, purpose: Purpose, email: str, *, tenant_id: str | None = None) -> bool:
    """Whether an unused, unexpired token of ``purpose`` was mailed to ``email``."""
    found = db.scalar(
        select(EmailToken.token_hash)
        .where(*_unused(purpose, email, None, tenant_id), EmailToken.expires_at > utcnow())
        .limit(1)
    )
    return found is not None
