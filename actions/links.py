"""Signed links in alert emails: HMAC-SHA256, expiring, single use, bound to tenant,
instance and action.

A token is ``<payload>.<signature>``, both base64url: the payload is JSON with a random
link id, the tenant, account, region, instance, action and expiry. :func:`verify` checks
the signature, then what the link is bound to, then use and expiry, and raises
:class:`LinkError` whose ``reason`` says which check failed (``malformed``, ``tampered``,
``wrong-tenant``, ``wrong-instance``, ``wrong-action``, ``used``, ``expired``).
:func:`consume` marks the link used in the store (a unique key: two clicks racing, one
wins). Opening a link (GET) only verifies; confirming (POST) consumes and acts.

>>> from datetime import UTC, datetime, timedelta
>>> key = b"k" * 32
>>> now = datetime(2026, 11, 27, tzinfo=UTC)
>>> token = sign(key, "acme", "i-0abc1234", "stop", ttl_s=3600, now=now)
>>> claims = verify(key, token, tenant_id="acme", action="stop", now=now)
>>> (claims.tenant_id, claims.instance_id, claims.action)
('acme', 'i-0abc1234', 'stop')
>>> verify(key, token, tenant_id="other", now=now)
Traceback (most recent call last):
...
actions.links.LinkError: wrong-tenant: this link belongs to another organisation
>>> verify(key, token, now=now + timedelta(hours=2))
Traceback (most recent call last):
...
actions.links.LinkError: expired: this link expired at 2026-11-27 01:00 UTC; use the newest alert email or the dashboard
>>> verify(key, token[:-2] + "xx", now=now)
Traceback (most recent call last):
...
actions.links.LinkError: tampered: this link was altered or was not made by SpendSense
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spendsense.errors import ConfigError, SpendSenseError
from spendsense.settings import ActionsSettings
from spendsense.store.models import UsedLink

log = logging.getLogger(__name__)

LinkAction = Literal["stop", "not-idle"]
LINK_ACTIONS: tuple[str, ...] = ("stop", "not-idle")
LinkReason = Literal[
    "malformed", "tampered", "wrong-tenant", "wrong-instance", "wrong-action", "used", "expired"
]
KEY_FILE = Path("secrets") / "link-signing.key"


class LinkError(SpendSenseError):
    """A link that cannot be used; ``reason`` is a stable code, the message is for people."""

    def __init__(self, reason: LinkReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link allows: one ``action`` on one instance of one tenant."""

    link_id: str
    tenant_id: str
    instance_id: str
    action: str
    expires_at: datetime
    account_id: str | None = None
    region: str | None = None

    @property
    def decision_key(self) -> str:
        """The idempotency key of what this link does (one link acts at most once)."""
        return f"{self.tenant_id}/link/{self.link_id}"


def signing_key(settings: ActionsSettings, var_dir: Path) -> bytes:
    """The HMAC key: the configured one, else a random key generated once under ``var_dir``.

    The generated key suits local runs only (one machine); production sets
    ``SPENDSENSE_ACTIONS__LINK_SIGNING_KEY`` so every API and worker process shares it.
    """
    if settings.link_signing_key is not None:
        return settings.link_signing_key.get_secret_value().encode()
    path = var_dir / KEY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"SPENDSENSE_ACTIONS__LINK_SIGNING_KEY is not set and {path} cannot be written "
            f"({exc.strerror}): set the variable to a random string of 32+ characters"
        ) from None
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        log.warning("generated a link signing key in %s (set the setting in production)", path)
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable key: delete it or set the setting")
    return key.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign(
    key: bytes,
    tenant_id: str,
    instance_id: str,
    action: str,
    *,
    ttl_s: int,
    account_id: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new single-use token allowing ``action`` on ``instance_id`` for ``ttl_s`` seconds."""
    if action not in LINK_ACTIONS:
        raise ValueError(f"link action must be one of {', '.join(LINK_ACTIONS)}")
    issued = now or datetime.now(UTC)
    body = {
        "v": 1,
        "lid": secrets.token_hex(12),
        "t": tenant_id,
        "acc": account_id,
        "r": region,
        "i": instance_id,
        "a": action,
        "exp": int(issued.timestamp()) + ttl_s,
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(key, payload)}"


def link_url(base_url: str, token: str) -> str:
    """The address a person opens: the API's confirmation page for ``token``.

    >>> link_url("https://app.example/", "abc.def")
    'https://app.example/links/abc.def'
    """
    return f"{base_url.rstrip('/')}/links/{token}"


def detail_url(base_url: str, instance_id: str) -> str:
    """The instance's page on the dashboard (it asks the reader to log in).

    >>> detail_url("https://app.example/", "i-0abc1234")
    'https://app.example/instances/i-0abc1234'
    """
    return f"{base_url.rstrip('/')}/instances/{instance_id}"


def decode(key: bytes, token: str) -> LinkClaims:
    """The claims of a token whose signature is right (no binding, use or expiry checks)."""
    payload, dot, signature = token.strip().partition(".")
    if not dot or not payload or not signature:
        raise LinkError("malformed", "this is not a SpendSense link (copy the whole address)")
    if not hmac.compare_digest(_mac(key, payload), signature):
        raise LinkError("tampered", "this link was altered or was not made by SpendSense")
    try:
        body = json.loads(_unb64(payload))
        return LinkClaims(
            link_id=str(body["lid"]),
            tenant_id=str(body["t"]),
            instance_id=str(body["i"]),
            action=str(body["a"]),
            expires_at=datetime.fromtimestamp(int(body["exp"]), UTC),
            account_id=body.get("acc"),
            region=body.get("r"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkError("malformed", "this link's content cannot be read") from None


def verify(
    key: bytes,
    token: str,
    *,
    tenant_id: str | None = None,
    instance_id: str | None = None,
    action: str | None = None,
    session: Session | None = None,
    now: datetime | None = None,
) -> LinkClaims:
    """Check a token; raises :class:`LinkError` with the first reason it cannot be used.

    ``tenant_id``/``instance_id``/``action``, when given, must match what the link is
    bound to (the API passes the signed-in tenant). With a ``session``, a link already
    consumed fails as ``used``. Nothing is changed: see :func:`consume`.
    """
    claims = decode(key, token)
    if tenant_id is not None and claims.tenant_id != tenant_id:
        raise LinkError("wrong-tenant", "this link belongs to another organisation")
    if instance_id is not None and claims.instance_id != instance_id:
        raise LinkError("wrong-instance", f"this link is not for instance {instance_id}")
    if action is not None and claims.action != action:
        raise LinkError("wrong-action", f"this link does not allow {action}")
    if session is not None and session.get(UsedLink, claims.link_id) is not None:
        raise LinkError("used", "this link was already used; each link works once")
    if (now or datetime.now(UTC)) >= claims.expires_at:
        when = claims.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise LinkError(
            "expired", f"this link expired at {when}; use the newest alert email or the dashboard"
        )
    return claims


def consume(session: Session, claims: LinkClaims, actor: str = "") -> None:
    """Mark the link used (in a savepoint of ``session``; the caller commits).

    Raises :class:`LinkError` ``used`` when another request consumed it first.
    """
    try:
        with session.begin_nested():
            session.add(
                UsedLink(
                    link_id=claims.link_id,
                    tenant_id=claims.tenant_id,
                    instance_id=claims.instance_id,
                    action=claims.action,
                    actor=actor,
                )
            )
    except IntegrityError:
        raise LinkError("used", "this link was already used; each link works once") from None
