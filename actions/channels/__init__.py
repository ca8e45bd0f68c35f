"""Notification channels: Slack, Microsoft Teams and signed JSON webhooks.

:mod:`~actions.channels.message` is what a notification says, whatever the channel;
:mod:`~actions.channels.kinds` registers one payload builder per kind (``slack``,
``teams``, ``webhook``); :mod:`~actions.channels.outbox` reserves deliveries (cooldown by
compare-and-set, idempotency keys), :mod:`~actions.channels.sender` posts them and
:mod:`~actions.channels.dispatch` ties it to the actions worker.
"""

from actions.channels import slack, teams, webhook

__all__ = ["slack", "teams", "webhook"]
