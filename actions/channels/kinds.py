"""The channel kinds, registered by name as actions are (:mod:`actions.registry`).

Each kind turns a :class:`~actions.channels.message.Notification` into the JSON its
receiver documents and says which headers go with a body (the signed webhook's).

>>> from actions.channels import kinds
>>> sorted(CHANNEL_KINDS)
['slack', 'teams', 'webhook']
"""

from __future__ import annotations

from typing import Any, ClassVar

from actions.channels.message import Notification
from spendsense.registry import Registry


class ChannelKind:
    """Base of every channel kind: its name, payload and request headers."""

    name: ClassVar[str]
    signed: ClassVar[bool] = False

    @staticmethod
    def payload(note: Notification, key: str) -> dict[str, Any]:
        """The JSON body for ``note``; ``key`` is the delivery's idempotency key."""
        raise NotImplementedError

    @staticmethod
    def headers(body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
        """Headers for ``body`` beyond the content type (none unless the kind signs)."""
        return {}


CHANNEL_KINDS: Registry[type[ChannelKind]] = Registry("channel kind")
