"""The actions worker's side of the channels: what to send, when, and what came of it.

:meth:`ChannelDispatcher.digest` runs after a digest email was reserved
(:meth:`actions.alerts.AlertService.flush`): the same idle instances and anomaly incidents
go to the channels subscribed to them, under each channel's own cooldown.
:meth:`ChannelDispatcher.action` takes each record of the ``actions`` topic (stops and
starts from the worker and the dashboard, actions on wasted resources, failed actions,
failed emails, dead deliveries) to the channels subscribed to ``actions`` or
``failures``, once per record.
:meth:`ChannelDispatcher.tick` retries what is due and gives up on deliveries a dead
worker left mid-call (``unknown``: never resent, so no duplicate).

A delivery out of attempts (or refused: a 4xx other than 429) is ``dead``: its channel's
``last_error`` says why, the settings page lists it, and an audit entry (``notify``,
``failed``) goes to the ``actions`` topic, hence to the channels subscribed to failures
(except for a failure message that died itself: no loop).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.channels.message import Notification
from actions.channels.notes import action_note, action_topic, anomaly_note, idle_note
from actions.channels.outbox import ChannelOutbox
from actions.channels.sender import Answer, new_client, post
from actions.delivery import backoff_s
from actions.outbox import FlushResult
from spendsense.events import ActionRecord
from spendsense.settings import ActionsSettings, ChannelsSettings
from spendsense.store.models import (
    AnomalyAlertState,
    ChannelDelivery,
    EmailOutbox,
    InstanceAlertState,
    NotificationChannel,
)

log = logging.getLogger(__name__)

CHANNELS_ACTOR = "channels"


def record_event(rec: ActionRecord) -> str:
    """What identifies an action record across replays (its facts, not its offset); a
    waste action's resource is one of them (so two resources acted on at once differ)."""
    facts: tuple[object, ...] = (
        rec.tenant_id,
        rec.instance_id,
        rec.action,
        rec.actor,
        rec.result,
        rec.at,
    )
    if rec.resource_id is not None:
        facts += (rec.resource_kind, rec.resource_id)
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:32]


class ChannelDispatcher:
    """Reserves, posts and records channel deliveries over one store and one sink."""

    def __init__(
        self,
        settings: ChannelsSettings,
        actions: ActionsSettings,
        sessions: sessionmaker[Session],
        sink: EventSink,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.base_url = actions.public_base_url
        self.sessions = sessions
        self.sink = sink
        self.clock = clock
        self.outbox = ChannelOutbox(settings, actions.cooldown_s, sessions, clock)
        self.client = new_client(settings.timeout_s)

    def close(self) -> None:
        self.client.close()

    # -- what to send ---------------------------------------------------------------

    def digest(self, tenant_id: str, flushed: FlushResult) -> list[str]:
        """Send the digest just reserved for email to the subscribed channels whose
        cooldown allows; the deliveries' statuses."""
        if not flushed.reserved:
            return []
        with self.sessions() as session:
            email = session.get(EmailOutbox, flushed.reserved[0])
            if email is None:
                return []
            states = [
                s
                for i in email.instance_ids
                if (s := session.get(InstanceAlertState, (tenant_id, i))) is not None
            ]
            anomalies = [
                a
                for i in email.incident_ids or ()
                if (a := session.get(AnomalyAlertState, (tenant_id, i))) is not None
            ]
            notes: list[Notification] = []
            if states:
                notes.append(idle_note(self.base_url, tenant_id, states))
            if anomalies:
                notes.append(anomaly_note(self.base_url, tenant_id, anomalies))
        return [self.deliver(i) for i in self.outbox.reserve_digest(tenant_id, notes)]

    def action(self, rec: ActionRecord) -> list[str]:
        """Send one action record to the channels subscribed to its topic, once."""
        topic = action_topic(rec)
        if topic is None:
            return []
        note = action_note(self.base_url, rec, topic)
        ids = self.outbox.reserve_once(rec.tenant_id, note, record_event(rec))
        return [self.deliver(i) for i in ids]

    # -- sending and recording ------------------------------------------------------

    def deliver(self, delivery_id: int) -> str:
        """Post one reserved delivery; returns its new status."""
        with self.sessions() as session:
            row = session.get(ChannelDelivery, delivery_id)
            if row is None or row.status != "reserved":
                return row.status if row is not None else "missing"
            channel = session.get(NotificationChannel, row.channel_id)
            if channel is None:
                return "missing"
            kind, url, secret = channel.kind, channel.url, channel.signing_secret
            body, key = row.body.encode(), row.idempotency_key
        answer = post(self.client, kind, url, body, secret, key, self.settings.allow_hosts)
        return self._record(delivery_id, answer)

    def _record(self, delivery_id: int, answer: Answer) -> str:
        now = self.clock()
        record: ActionRecord | None = None
        with self.sessions.begin() as session:
            row = session.get(ChannelDelivery, delivery_id)
            channel = session.get(NotificationChannel, row.channel_id) if row else None
            if row is None or channel is None:
                return "missing"
            row.attempts += 1
            row.status_code = answer.status_code
            if answer.verdict == "sent":
                row.status, row.sent_at, row.error = "sent", now, None
                channel.last_sent_at = now
            elif answer.verdict == "retry" and row.attempts < self.settings.max_attempts:
                wait = answer.after_s if answer.after_s is not None else backoff_s(row.attempts)
                row.status, row.error = "retry", answer.error
                row.next_attempt_at = now + timedelta(seconds=wait)
            else:
                row.status, row.error = "dead", answer.error
                channel.last_error, channel.last_error_at = answer.error, now
                if row.topic not in {"failures", "test"}:
                    record = self._audit_dead(session, row, channel)
            status = row.status
        if record is not None:
            publish_action(self.sink, record)
        if status == "dead":
            log.error("channel delivery %s is dead: %s", delivery_id, answer.error)
        elif status == "retry":
            log.warning("channel delivery %s will retry: %s", delivery_id, answer.error)
        return status

    def _audit_dead(
        self, session: Session, row: ChannelDelivery, channel: NotificationChannel
    ) -> ActionRecord:
        record, _ = audit(
            session,
            row.tenant_id,
            actor=CHANNELS_ACTOR,
            action="notify",
            result="failed",
            reason=f"{row.topic} message to {channel.kind} channel {channel.name!r}: {row.error}",
            decision_key=f"{row.tenant_id}/notify/{row.idempotency_key}",
            details={"channel": channel.id, "attempts": row.attempts},
        )
        return record

    # -- the timer ------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Give up on deliveries left mid-call, then post every retry that is due."""
        for delivery_id in self.outbox.left_behind():
            self._mark_unknown(delivery_id)
        return [self.deliver(i) for i in self.outbox.due()]

    def _mark_unknown(self, delivery_id: int) -> None:
        with self.sessions.begin() as session:
            row = session.get(ChannelDelivery, delivery_id)
            channel = session.get(NotificationChannel, row.channel_id) if row else None
            if row is None or channel is None:
                return
            row.error = "the worker stopped during the call; not resent"
            channel.last_error, channel.last_error_at = row.error, self.clock()
        log.error("channel delivery %s has an unknown outcome", delivery_id)
