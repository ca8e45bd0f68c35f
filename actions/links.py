"""Signed links in alert emails: HMAC-SHA256, expiring, single use, bound to tenant,
instance and action.

A token is an ``itsdangerous`` timed token, ``<payload>.<timestamp>.<signature>``
(base64url, keyed with the link-signing key): the payload is JSON with a random link id,
the tenant, account, region, instance, action and lifetime. :func:`verify` checks the
signature, then what the link is bound to, then use and expiry, and raises
:class:`LinkError` whose ``reason`` says which check failed (``malformed``, ``tampered``
for itsdangerous's ``BadSignature``/``BadTimeSignature``, ``wrong-tenant``,
``wrong-instance``, ``wrong-action``, ``used``, ``expired`` for its ``SignatureExpired``).
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

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from itsdangerous import BadData, BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.url_safe import URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spendsense.errors import SpendSenseError
from spendsense.secrets_file import configured_or_generated
from spendsense.settings import ActionsSettings
from spendsense.store.models import UsedLink

log = logging.getLogger(__name__)

LinkAction = Literal["stop", "not-idle", "anomaly-expected"]
LINK_ACTIONS: tuple[str, ...] = ("stop", "not-idle", "anomaly-expected")
LinkReason = Literal[
    "malformed", "tampered", "wrong-tenant", "wrong-instance", "wrong-action", "used", "expired"
]
KEY_FILE = Path("secrets") / "link-signing.key"
SALT = "spendsense.link"


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
    issued_at: datetime
    account_id: str | None = None
    region: str | None = None
    incident_id: str | None = None
    """For ``anomaly-expected``: the anomaly incident the link calls expected."""
    metric: str | None = None
    """For ``anomaly-expected``: the incident's metric."""

    @property
    def decision_key(self) -> str:
        """The idempotency key of what this link does (one link acts at most once)."""
        return f"{self.tenant_id}/link/{self.link_id}"


def signing_key(settings: ActionsSettings, var_dir: Path) -> bytes:
    """The HMAC key: the configured one, else a random key generated once under ``var_dir``.

    The generated key suits local runs only (one machine); production sets
    ``SPENDSENSE_ACTIONS__LINK_SIGNING_KEY`` so every API and worker process shares it.
    """
    return configured_or_generated(
        settings.link_signing_key, var_dir / KEY_FILE, "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY"
    )


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer, reading the time the caller passes (the alerts
    service signs at its own clock; tests verify at a chosen moment)."""

    def __init__(self, *args: Any, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def get_timestamp(self) -> int:
        return int(self.now.timestamp()) if self.now is not None else super().get_timestamp()


def _serializer(key: bytes, now: datetime | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        key,
        salt=SALT,
        signer=_ClockSigner,
        signer_kwargs={"now": now, "digest_method": hashlib.sha256},
    )


def sign(
    key: bytes,
    tenant_id: str,
    instance_id: str,
    action: str,
    *,
    ttl_s: int,
    account_id: str | None = None,
    region: str | None = None,
    incident_id: str | None = None,
    metric: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new single-use token allowing ``action`` on ``instance_id`` for ``ttl_s`` seconds
    (``anomaly-expected`` also binds the anomaly's ``incident_id`` and ``metric``).

    >>> sign(b"k" * 32, "acme", "i-0abc1234", "anomaly-expected", ttl_s=60)
    Traceback (most recent call last):
    ...
    ValueError: an anomaly-expected link needs the incident_id and metric it is about
    """
    if action not in LINK_ACTIONS:
        raise ValueError(f"link action must be one of {', '.join(LINK_ACTIONS)}")
    if action == "anomaly-expected" and not (incident_id and metric):
        raise ValueError("an anomaly-expected link needs the incident_id and metric it is about")
    body = {
        "v": 2,
        "lid": secrets.token_hex(12),
        "t": tenant_id,
        "acc": account_id,
        "r": region,
        "i": instance_id,
        "a": action,
        "ttl": ttl_s,
    }
    if incident_id is not None:
        body |= {"inc": incident_id, "m": metric}
    return _serializer(key, now or datetime.now(UTC)).dumps(body)


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
    token = token.strip()
    if token.count(".") < 2:
        raise LinkError("malformed", "this is not a SpendSense link (copy the whole address)")
    try:
        body, signed_at = _serializer(key).loads(token, return_timestamp=True)
    except BadSignature:  # also a bad or missing timestamp (BadTimeSignature)
        raise LinkError("tampered", "this link was altered or was not made by SpendSense") from None
    except BadData:
        raise LinkError("malformed", "this link's content cannot be read") from None
    try:
        return LinkClaims(
            link_id=str(body["lid"]),
            tenant_id=str(body["t"]),
            instance_id=str(body["i"]),
            action=str(body["a"]),
            expires_at=signed_at + timedelta(seconds=int(body["ttl"])),
            issued_at=signed_at,
            account_id=body.get("acc"),
            region=body.get("r"),
            incident_id=body.get("inc"),
            metric=body.get("m"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise LinkError("malformed", "this link's content cannot be read") from None


def _check_expiry(key: bytes, token: str, claims: LinkClaims, now: datetime) -> None:
    """Raise ``expired`` when itsdangerous finds the token older than its lifetime at ``now``."""
    expires_at = claims.expires_at
    try:
        # itsdangerous refuses ages above max_age; a link dies at its expiry second
        lifetime = int((expires_at - claims.issued_at).total_seconds())
        _serializer(key, now).loads(token, max_age=lifetime - 1)
    except SignatureExpired as exc:
        if exc.date_signed is not None and exc.date_signed > now:
            return  # signed on a clock ahead of this one (age < 0): good until it expires
        when = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise LinkError(
            "expired", f"this link expired at {when}; use the newest alert email or the dashboard"
        ) from None


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
    _check_expiry(key, token, claims, now or datetime.now(UTC))
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
