"""What a notification says, whatever the channel: a title, items, a link.

The channel kinds (:mod:`actions.channels.kinds`) render a :class:`Notification` into
their own JSON; the generic webhook also carries ``data`` as it is.

>>> n = Notification("actions", "acme", "1 action taken", (Item("i-1", "stopped", ""),))
>>> n.as_data()["items"]
[{'label': 'i-1', 'detail': 'stopped', 'url': ''}]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Topic = Literal["idle-findings", "anomalies", "actions", "failures", "test"]
TOPICS: tuple[Topic, ...] = ("idle-findings", "anomalies", "actions", "failures")
"""What a channel may subscribe to (``test`` is the settings page's test message)."""


@dataclass(frozen=True)
class Item:
    """One line of a notification: an instance, an incident or an action."""

    label: str
    detail: str
    url: str = ""


@dataclass(frozen=True)
class Notification:
    """One message: its topic, the tenant, a title, its items and a link to SpendSense."""

    topic: Topic
    tenant_id: str
    title: str
    items: tuple[Item, ...] = ()
    link: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def shown(self, limit: int) -> tuple[tuple[Item, ...], str]:
        """The items a message of at most ``limit`` items shows, and the line saying
        how many it leaves out ("" when none).

        >>> Notification("actions", "acme", "t", (Item("a", ""), Item("b", ""))).shown(1)
        ((Item(label='a', detail='', url=''),), 'and 1 more')
        """
        rest = len(self.items) - limit
        return self.items[:limit], f"and {rest} more" if rest > 0 else ""

    def as_data(self) -> dict[str, Any]:
        """The notification as plain JSON-able data (the generic webhook's ``data``)."""
        return {
            "topic": self.topic,
            "tenant_id": self.tenant_id,
            "title": self.title,
            "items": [asdict(i) for i in self.items],
            "link": self.link,
            **self.data,
        }
