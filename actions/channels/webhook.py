"""The generic JSON webhook, signed with HMAC-SHA256 over ``<timestamp>.<body>``.

Headers: ``X-SpendSense-Timestamp`` (Unix seconds) and ``X-SpendSense-Signature:
v1=<hex>``, the hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` under the channel's
signing secret. Receivers verify it as docs/webhooks.md shows (and reject timestamps more
than 5 minutes old). The body carries the delivery's ``id`` (its idempotency key: the
same on a retry) so a receiver can drop a repeat.

>>> body = b'{"id": "k1"}'
>>> h = WebhookKind.headers(body, "whsec_test", 1700000000)
>>> h["X-SpendSense-Signature"] == "v1=" + signature("whsec_test", 1700000000, body)
True
>>> verify("whsec_test", body, h["X-SpendSense-Timestamp"], h["X-SpendSense-Signature"],
...        now=1700000100)
True
>>> verify("whsec_test", body, h["X-SpendSense-Timestamp"], h["X-SpendSense-Signature"],
...        now=1700000400)
False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from actions.channels.kinds import CHANNEL_KINDS, ChannelKind
from actions.channels.message import Notification

TIMESTAMP_HEADER = "X-SpendSense-Timestamp"
SIGNATURE_HEADER = "X-SpendSense-Signature"
TOLERANCE_S = 300


def new_secret() -> str:
    """A fresh signing secret (shown to the tenant once)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str, body: bytes, timestamp: str, header: str, *, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp``, no more than 5 minutes ago
    (what a receiver checks; docs/webhooks.md has the same as a standalone snippet)."""
    if not timestamp.isdigit() or not header.startswith("v1="):
        return False
    at = int(timestamp)
    if abs((time.time() if now is None else now) - at) > TOLERANCE_S:
        return False
    return hmac.compare_digest(header[3:], signature(secret, at, body))


@CHANNEL_KINDS.register("webhook")
class WebhookKind(ChannelKind):
    """A generic HTTPS endpoint receiving signed JSON."""

    name = "webhook"
    signed = True

    @staticmethod
    def payload(note: Notification, key: str) -> dict[str, Any]:
        return {"id": key, **note.as_data()}

    @staticmethod
    def headers(body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
        if not secret:
            return {}
        return {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"v1={signature(secret, timestamp, body)}",
        }
