"""Microsoft Teams incoming webhooks (and Workflows): a message with one Adaptive Card.

The body is the documented incoming-webhook shape: ``{"type": "message", "attachments":
[{"contentType": "application/vnd.microsoft.card.adaptive", "content": <card>}]}``; the
card (version 1.4) has a bold title, one wrapped ``TextBlock`` per item (Markdown
``[label](url)`` links) and an ``Action.OpenUrl`` to SpendSense.

>>> from actions.channels.message import Item, Notification
>>> note = Notification("failures", "acme", "1 failure", (Item("i-1", "stop failed"),),
...                     link="https://x/")
>>> card = TeamsKind.payload(note, "k1")["attachments"][0]["content"]
>>> card["type"], card["version"], [b["text"] for b in card["body"]]
('AdaptiveCard', '1.4', ['1 failure', '**i-1**: stop failed'])
>>> card["actions"][0]["url"]
'https://x/'
"""

from __future__ import annotations

from typing import Any

from actions.channels.kinds import CHANNEL_KINDS, ChannelKind
from actions.channels.message import Item, Notification

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_ITEMS = 50


def item_text(item: Item) -> str:
    """One item in the card's Markdown: the label bold (a link when it has one)."""
    label = f"[{item.label}]({item.url})" if item.url else item.label
    return f"**{label}**: {item.detail}"


@CHANNEL_KINDS.register("teams")
class TeamsKind(ChannelKind):
    """A Teams incoming webhook or Workflows URL."""

    name = "teams"

    @staticmethod
    def payload(note: Notification, key: str) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "text": note.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        ]
        items, more = note.shown(MAX_ITEMS)
        texts = [item_text(i) for i in items] + ([more] if more else [])
        body += [{"type": "TextBlock", "text": t, "wrap": True} for t in texts]
        card: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if note.link:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": "Open SpendSense", "url": note.link}
            ]
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
