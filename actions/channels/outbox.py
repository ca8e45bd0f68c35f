"""Channel deliveries' state machine, as the email outbox's (:mod:`actions.outbox`).

A row's life (``ChannelDelivery.status``)::

    reserved --2xx--> sent
    reserved --5xx, 429, no answer--> retry --due, claimed by one timer--> reserved
    reserved --other answer, or out of attempts--> dead   (shown on the settings page)
    reserved --left past the lease (the worker died during the call)--> unknown

:meth:`ChannelOutbox.reserve_digest` takes each channel's digest cooldown by
compare-and-set on ``next_digest_at`` (of two workers, one wins) and adds its rows under
keys made of the channel, the topic and the cooldown window, in one transaction;
:meth:`ChannelOutbox.reserve_once` adds one row under a key made of the channel and the
event (a replayed action record finds its key taken). Every later move is
:meth:`ChannelOutbox.claim`, a compare-and-set on the status.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from actions.channels.kinds import CHANNEL_KINDS
from actions.channels.message import Notification, Topic
from spendsense.settings import ChannelsSettings
from spendsense.store.models import ChannelDelivery, NotificationChannel


def delivery_key(channel_id: int, *parts: object) -> str:
    """The idempotency key of one message to one channel (the same for a replay).

    >>> delivery_key(1, "idle-findings", 3) == delivery_key(1, "idle-findings", 3)
    True
    >>> delivery_key(1, "idle-findings", 3) == delivery_key(2, "idle-findings", 3)
    False
    """
    text = "\n".join(str(p) for p in (channel_id, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def render(kind: str, note: Notification, key: str) -> str:
    """The JSON body channel ``kind`` gets for ``note`` (fixed at reservation)."""
    return json.dumps(CHANNEL_KINDS[kind].payload(note, key), separators=(",", ":"))


def subscribed(session: Session, tenant_id: str, topic: Topic) -> list[NotificationChannel]:
    """The tenant's enabled channels subscribed to ``topic``."""
    channels = session.scalars(
        select(NotificationChannel)
        .where(NotificationChannel.tenant_id == tenant_id, NotificationChannel.enabled)
        .order_by(NotificationChannel.id)
    ).all()
    return [c for c in channels if topic in (c.subscriptions or [])]


@dataclass(frozen=True)
class ChannelOutbox:
    """Reserves and claims :class:`ChannelDelivery` rows; every move is one transaction."""

    settings: ChannelsSettings
    cooldown_s: int
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]

    def reserve_digest(self, tenant_id: str, notes: Sequence[Notification]) -> list[int]:
        """Reserve each note for the channels subscribed to its topic whose digest cooldown
        allows (one cooldown per channel for all the digest's notes); the new row ids."""
        now = self.clock()
        with self.sessions.begin() as session:
            wanted: dict[int, tuple[NotificationChannel, list[Notification]]] = {}
            for note in notes:
                for channel in subscribed(session, tenant_id, note.topic):
                    wanted.setdefault(channel.id, (channel, []))[1].append(note)
            rows = []
            for channel, its_notes in wanted.values():
                window = self._take_cooldown(session, channel.id, now)
                if window is None:
                    continue
                for note in its_notes:
                    key = delivery_key(channel.id, note.topic, "digest", window)
                    rows.append(self._row(channel, note, key, now))
            session.add_all(rows)
            session.flush()
            return [r.id for r in rows]

    def reserve_once(self, tenant_id: str, note: Notification, event: str) -> list[int]:
        """Reserve ``note`` for every channel subscribed to its topic, once per ``event``
        (a replayed event reserves nothing); the new row ids."""
        now = self.clock()
        with self.sessions() as session:
            channels = subscribed(session, tenant_id, note.topic)
        ids = []
        for channel in channels:
            try:
                with self.sessions.begin() as session:
                    row = self._row(channel, note, delivery_key(channel.id, note.topic, event), now)
                    session.add(row)
                    session.flush()
                    ids.append(row.id)
            except IntegrityError:
                continue  # delivered (or tried) before: at most once
        return ids

    def _row(
        self, channel: NotificationChannel, note: Notification, key: str, now: datetime
    ) -> ChannelDelivery:
        return ChannelDelivery(
            idempotency_key=key,
            tenant_id=channel.tenant_id,
            channel_id=channel.id,
            topic=note.topic,
            summary=note.title[:300],
            body=render(channel.kind, note, key),
            status="reserved",
            reserved_at=now,
        )

    def _take_cooldown(self, session: Session, channel_id: int, now: datetime) -> int | None:
        """Compare-and-set the channel's digest cooldown; the new window, or None if held."""
        won = session.execute(
            update(NotificationChannel)
            .where(NotificationChannel.id == channel_id, NotificationChannel.next_digest_at <= now)
            .values(
                next_digest_at=now + timedelta(seconds=self.cooldown_s),
                digest_version=NotificationChannel.digest_version + 1,
            )
            .returning(NotificationChannel.digest_version)
            .execution_options(synchronize_session=False)
        ).all()
        return int(won[0][0]) if won else None

    def claim(self, delivery_id: int, old: str, new: str, **values: Any) -> bool:
        """Move one delivery from ``old`` to ``new`` status unless someone did first."""
        with self.sessions.begin() as session:
            done = session.execute(
                update(ChannelDelivery)
                .where(ChannelDelivery.id == delivery_id, ChannelDelivery.status == old)
                .values(status=new, **values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(done, "rowcount", 0))

    def due(self) -> list[int]:
        """Claim every ``retry`` delivery whose time came (back to ``reserved``); their ids."""
        now = self.clock()
        with self.sessions() as session:
            ids = session.scalars(
                select(ChannelDelivery.id).where(
                    ChannelDelivery.status == "retry", ChannelDelivery.next_attempt_at <= now
                )
            ).all()
        return [i for i in ids if self.claim(i, "retry", "reserved", reserved_at=now)]

    def left_behind(self) -> list[int]:
        """Deliveries left ``reserved`` past the lease, claimed ``unknown`` (never resent)."""
        cutoff = self.clock() - timedelta(seconds=self.settings.lease_s)
        with self.sessions() as session:
            ids = session.scalars(
                select(ChannelDelivery.id).where(
                    ChannelDelivery.status == "reserved", ChannelDelivery.reserved_at < cutoff
                )
            ).all()
        return [i for i in ids if self.claim(i, "reserved", "unknown")]
