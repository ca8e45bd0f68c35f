"""Exactly once on ``metrics`` across restarts: what was published after the last checkpoint.

The collector commits an instance's cursor to the store only after the broker has
acknowledged every record before it, and stamps the account's checkpoint with the wall
time of that commit. A collector killed between a send and its commit leaves records
on the topic that its cursors do not know about. On start (and after any failed flush)
it reads back every ``metrics`` record produced since the oldest checkpoint of its
accounts and remembers those (tenant, instance, period) triples; a poll skips any
period remembered there. Records are produced with the producer's wall-clock create
time, so reading from ``oldest checkpoint - margin`` by timestamp covers them all.

>>> seen = PublishedPeriods()
>>> seen.add("t1", "i-0abc12345", datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
>>> seen.contains("t1", "i-0abc12345", datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
True
>>> seen.forget("t1", "i-0abc12345")
>>> len(seen)
0
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spendsense.errors import PoisonRecord
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import KafkaSettings
from spendsense.store.models import AwsAccount, IngestCheckpoint, utcnow
from spendsense.topics import METRICS, METRICS_SPEC, topic_name

log = logging.getLogger(__name__)

MARGIN = timedelta(seconds=60)


class PublishedPeriods:
    """(tenant, instance) → periods found on the topic but not yet behind a stored cursor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], set[datetime]] = {}

    def add(self, tenant_id: str, instance_id: str, period: datetime) -> None:
        with self._lock:
            self._seen.setdefault((tenant_id, instance_id), set()).add(period)

    def contains(self, tenant_id: str, instance_id: str, period: datetime) -> bool:
        with self._lock:
            return period in self._seen.get((tenant_id, instance_id), ())

    def forget(self, tenant_id: str, instance_id: str) -> None:
        """Drop an instance once its cursor (stored) has moved past what was found."""
        with self._lock:
            self._seen.pop((tenant_id, instance_id), None)

    def prune(
        self, tenant_id: str, instance_id: str, cursor: datetime, gaps: set[datetime]
    ) -> None:
        """Keep only periods a poll could still publish: at or after ``cursor``, or in ``gaps``."""
        with self._lock:
            key = (tenant_id, instance_id)
            kept = {p for p in self._seen.get(key, ()) if p >= cursor or p in gaps}
            if kept:
                self._seen[key] = kept
            else:
                self._seen.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._seen.values())


def oldest_checkpoint(session: Session) -> datetime | None:
    """The oldest checkpoint among the accounts still connected."""
    return session.scalar(
        select(func.min(IngestCheckpoint.checkpoint_at)).join(
            AwsAccount,
            (AwsAccount.tenant_id == IngestCheckpoint.tenant_id)
            & (AwsAccount.account_id == IngestCheckpoint.account_id),
        )
    )


def touch_checkpoint(session: Session, tenant_id: str, account_id: str) -> None:
    """Mark everything this account published so far as behind its stored cursors (now)."""
    row = session.get(IngestCheckpoint, (tenant_id, account_id))
    if row is None:
        session.add(
            IngestCheckpoint(tenant_id=tenant_id, account_id=account_id, checkpoint_at=utcnow())
        )
    else:
        row.checkpoint_at = utcnow()


def read_back(kafka: KafkaSettings, since: datetime, into: PublishedPeriods) -> int:
    """Add the periods of every ``metrics`` record (either wire shape) produced since
    ``since - margin`` to ``into``; returns how many periods."""
    topic = topic_name(kafka, METRICS)
    consumer = KafkaConsumer(
        **kafka_python_config(
            kafka,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"spendsense-collector-recovery-{uuid.uuid4().hex[:8]}",
        )
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        start_ms = int((since - MARGIN).timestamp() * 1000)
        starts = consumer.offsets_for_times(dict.fromkeys(tps, start_ms))
        ends = consumer.end_offsets(tps)
        todo = {}
        for tp in tps:
            found = starts.get(tp)
            first = found.offset if found is not None else ends[tp]
            if first < ends[tp]:
                consumer.seek(tp, first)
                todo[tp] = ends[tp]
        count = 0
        while todo:
            for tp, messages in consumer.poll(timeout_ms=1000, max_records=5000).items():
                for msg in messages:
                    if msg.offset >= todo.get(tp, 0):
                        continue
                    try:
                        poll = METRICS_SPEC.parse(msg.value)
                    except PoisonRecord:
                        continue
                    for period in poll.periods:
                        into.add(poll.tenant_id, poll.instance_id, period.timestamp.astimezone(UTC))
                    count += len(poll.periods)
            for tp in list(todo):
                if consumer.position(tp) >= todo[tp]:
                    del todo[tp]
        log.info("recovery: %d metric periods published since %s re-read", count, since)
        return count
    finally:
        consumer.close()
