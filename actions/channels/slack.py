"""Slack incoming webhooks: Block Kit JSON (a header, mrkdwn sections, a context line).

The top-level ``text`` is the notification's fallback (Slack shows it in notifications);
``blocks`` hold the message: a ``header`` (plain text, at most 150 characters), one
``section`` per item (mrkdwn, ``<url|label>`` links, at most 3000 characters), and a
``context`` block with the link to SpendSense. A message has at most 50 blocks.

>>> from actions.channels.message import Item, Notification
>>> note = Notification("actions", "acme", "1 action taken",
...                     (Item("i-1", "stopped by alice", "https://x/instances/i-1"),))
>>> body = SlackKind.payload(note, "k1")
>>> [b["type"] for b in body["blocks"]]
['header', 'section', 'context']
>>> body["blocks"][1]["text"]
{'type': 'mrkdwn', 'text': '*<https://x/instances/i-1|i-1>*: stopped by alice'}
"""

from __future__ import annotations

from typing import Any

from actions.channels.kinds import CHANNEL_KINDS, ChannelKind
from actions.channels.message import Item, Notification

MAX_ITEMS = 45  # of Slack's 50 blocks a message may have: header, context, "and N more"


def escape(text: str) -> str:
    """Slack's three control characters escaped.

    >>> escape("a <b> & c")
    'a &lt;b&gt; &amp; c'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def item_text(item: Item) -> str:
    """One item in mrkdwn: the label bold (a link when it has one), then the detail."""
    label = f"<{item.url}|{escape(item.label)}>" if item.url else escape(item.label)
    return f"*{label}*: {escape(item.detail)}"[:3000]


@CHANNEL_KINDS.register("slack")
class SlackKind(ChannelKind):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    name = "slack"

    @staticmethod
    def payload(note: Notification, key: str) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}}
        ]
        items, more = note.shown(MAX_ITEMS)
        texts = [item_text(i) for i in items] + ([more] if more else [])
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in texts]
        context = "SpendSense"
        if note.link:
            context += f" · <{note.link}|open SpendSense>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        return {"text": note.title, "blocks": blocks}
