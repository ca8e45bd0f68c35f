"""The projector: folds ``inventory``, ``detections`` and ``actions`` into the ``instances`` table,
``anomalies`` into the ``anomalies`` table (one row per incident) and ``waste`` into
``waste_resources`` (one row per resource, :mod:`projector.waste`).

The dashboard reads one indexed row per instance instead of the stream. The projector
is a consumer group (``api.projector_group_id``): it polls a batch, applies it in one
store transaction and commits the offsets only after the store committed, so a crash
replays at most the last batch, and replaying is harmless (each record only moves a
row forward: older inventory or detections than the row holds are ignored, and an
incident's ``open`` record never reopens the row its ``closed`` record closed).

Records that fail their schema, or name a tenant the store does not know, go to the
dead-letter topic with the reason and are counted; the stream goes on.

>>> from datetime import UTC, datetime
>>> row = InstanceView(tenant_id="t1", instance_id="i-0abc1234", account_id="111111111111",
...                    region="us-east-1")
>>> det = DetectionRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...     instance_id="i-0abc1234", timestamp=datetime(2026, 11, 27, tzinfo=UTC), score=0.9,
...     idle=True, confidence=0.87, reason="CPU flat at 0.4%", monthly_waste_usd=61.3,
...     rest_cpu_percent=1.2, rest_network_bps=900.0)
>>> apply_detection(row, det)
True
>>> row.status, row.confidence, row.reason, row.rest_cpu_percent, row.monthly_waste_usd
('idle', 0.87, 'CPU flat at 0.4%', 1.2, 61.3)
>>> apply_detection(row, det.model_copy(update={"idle": False, "provisional": True}))
True
>>> row.status, row.monthly_waste_usd
('provisional', 0.0)
>>> apply_detection(row, det.model_copy(update={"timestamp": datetime(2026, 11, 26, tzinfo=UTC)}))
False

An anomaly incident: its ``open`` record, then its ``closed`` one; the ``open`` one again
(a replay) changes nothing:

>>> t0 = datetime(2026, 11, 27, 3, tzinfo=UTC)
>>> opened = AnomalyRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...     instance_id="i-0abc1234", incident_id="i-0abc1234/network_out_bytes/t0",
...     metric="network_out_bytes", status="open", direction="up", since=t0, timestamp=t0,
...     observed=9e9, expected_low=1e6, expected_high=5e7, score=0.99, dollars_per_hour=9.72,
...     cost_basis="data transfer out at $0.09/GB")
>>> view = AnomalyView(tenant_id="t1", incident_id=opened.incident_id)
>>> apply_anomaly(view, opened), view.status, view.ended_at
(True, 'open', None)
>>> closed = opened.model_copy(update={"status": "closed", "ended_at": t0.replace(hour=5)})
>>> apply_anomaly(view, closed), view.status, view.ended_at.hour
(True, 'closed', 5)
>>> apply_anomaly(view, opened), view.status
(False, 'closed')
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from projector.ledger import fold_ledger
from projector.waste import fold_waste
from spendsense.counters import SharedCounter
from spendsense.errors import PoisonRecord, ServiceError
from spendsense.events import (
    ActionRecord,
    AnomalyRecord,
    DeadLetter,
    DetectionRecord,
    Event,
    InventoryRecord,
    WasteRecord,
)
from spendsense.kafka_clients import kafka_python_config
from spendsense.metrics import CollectorRegistry, Counter, Gauge
from spendsense.settings import ApiSettings, KafkaSettings
from spendsense.store.models import AnomalyView, Tenant
from spendsense.store.models.api import InstanceView
from spendsense.topics import (
    ACTIONS_SPEC,
    ANOMALIES_SPEC,
    DEADLETTER,
    DEADLETTER_SPEC,
    DETECTIONS_SPEC,
    INVENTORY_SPEC,
    WASTE_SPEC,
    TopicSpec,
    topic_name,
)

log = logging.getLogger(__name__)

# the topics folded, in the order a batch is applied
FOLDED: tuple[TopicSpec[Any], ...] = (
    INVENTORY_SPEC,
    DETECTIONS_SPEC,
    ACTIONS_SPEC,
    ANOMALIES_SPEC,
    WASTE_SPEC,
)
# An action's result that changes what EC2 reports right away.
STATE_AFTER = {("stop", "stopped"): "stopping", ("start", "started"): "pending"}


def apply_inventory(row: InstanceView, rec: InventoryRecord) -> bool:
    """Move the row to what the collector saw, unless the row holds something newer."""
    if row.observed_at is not None and rec.observed_at < row.observed_at:
        return False
    row.account_id = rec.account_id
    row.region = rec.region
    row.name = rec.name or rec.tags.get("Name", "")
    row.state = rec.state
    row.instance_type = rec.instance_type
    row.lifecycle = rec.lifecycle
    row.root_device_type = rec.root_device_type
    row.asg_name = rec.asg_name
    row.tags = dict(rec.tags)
    row.stop_protection = rec.stop_protection
    row.hourly_price_usd = rec.hourly_price_usd
    row.launch_time = rec.launch_time
    row.observed_at = rec.observed_at
    return True


def apply_detection(row: InstanceView, rec: DetectionRecord) -> bool:
    """Take the detector's newest verdict (an older period's verdict is ignored)."""
    if row.scored_at is not None and rec.timestamp < row.scored_at:
        return False
    row.idle_score = rec.score  # the model's novelty: kept, never shown as idleness
    row.idle = rec.idle
    row.provisional = rec.provisional
    row.confidence = rec.confidence
    row.idle_since = rec.idle_since
    row.reason = rec.reason
    row.rest_cpu_percent = rec.rest_cpu_percent
    row.rest_network_bps = rec.rest_network_bps
    row.monthly_waste_usd = rec.monthly_waste_usd if rec.idle else 0.0
    row.scored_at = rec.timestamp
    if rec.instance_type and not row.instance_type:
        row.instance_type = rec.instance_type
    if rec.name and not row.name:
        row.name = rec.name
    return True


def apply_action(row: InstanceView, rec: ActionRecord) -> bool:
    """Show the last thing done to the instance; a stop shows ``stopping`` until inventory."""
    if row.last_action_at is not None and rec.at < row.last_action_at:
        return False
    row.last_action = f"{rec.action}:{rec.result}"
    row.last_action_at = rec.at if rec.at.tzinfo else rec.at.replace(tzinfo=UTC)
    after = STATE_AFTER.get((rec.action, rec.result))
    if after is not None and (row.observed_at is None or row.observed_at < row.last_action_at):
        row.state = after
    if rec.action == "not-idle":
        row.mark_not_idle()
    return True


def apply_anomaly(row: AnomalyView, rec: AnomalyRecord) -> bool:
    """Take an incident's record: ``open`` fills the row, ``closed`` ends it (with the
    incident's most extreme value); an ``open`` after the ``closed`` (a replay) is ignored."""
    if row.status == "closed" and rec.status == "open":
        return False
    row.take_facts(rec)
    row.status = rec.status
    row.score = rec.score
    return True


@dataclass
class ProjectorMetrics:
    """Records applied, skipped and dead-lettered; the newest record's age."""

    records: Counter
    lag_seconds: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ProjectorMetrics:
        return cls(
            records=Counter(
                "spendsense_projector_records_total",
                "Records consumed by topic and outcome (applied, stale, ignored, deadletter).",
                ["topic", "outcome"],
                registry=registry,
            ),
            lag_seconds=Gauge(
                "spendsense_projector_batch_lag_seconds",
                "Seconds between the newest record's broker timestamp and its projection.",
                registry=registry,
            ),
        )


class Projector:
    """Applies batches of raw records to the store; the Kafka loop is :meth:`run`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        kafka: KafkaSettings,
        metrics: ProjectorMetrics,
        dead_letter: Any = None,
        changes: SharedCounter | None = None,
    ) -> None:
        self.sessions = sessions
        self.changes = changes
        self.kafka = kafka
        self.metrics = metrics
        self.dead_letter = dead_letter
        self._topics = {topic_name(kafka, spec.name): spec for spec in FOLDED}
        self._tenants: set[str] = set()

    @property
    def topics(self) -> list[str]:
        return sorted(self._topics)

    def _known_tenant(self, session: Session, tenant_id: str) -> bool:
        if tenant_id not in self._tenants:
            self._tenants = set(session.scalars(select(Tenant.id)))
        return tenant_id in self._tenants

    def _dead(
        self, topic: str, partition: int | None, offset: int | None, raw: bytes | None, reason: str
    ) -> None:
        spec = self._topics.get(topic)
        self.metrics.records.labels(
            topic=spec.name if spec is not None else topic, outcome="deadletter"
        ).inc()
        log.warning(
            "projector: %s[%s]@%s to the dead-letter topic: %s", topic, partition, offset, reason
        )
        if self.dead_letter is None:
            return
        letter = DeadLetter.of(topic, raw, f"projector: {reason}", partition, offset)
        key, value = DEADLETTER_SPEC.encode(letter)
        self.dead_letter.send(topic_name(self.kafka, DEADLETTER), key=key, value=value)

    def apply(self, batch: Iterable[tuple[str, int | None, int | None, bytes | None]]) -> int:
        """Apply ``(topic, partition, offset, value)`` records in one transaction; returns applied."""
        applied = 0
        # Inventory first, then detections, then actions: an action read in the same batch
        # as the inventory that introduces its instance still finds the row. Anomalies
        # last, each incident's records in topic order (the sort is stable).
        ordered = sorted(batch, key=lambda r: FOLDED.index(self._topics[r[0]]))
        with self.sessions.begin() as session:
            for topic, partition, offset, raw in ordered:
                spec = self._topics[topic]
                try:
                    rec: Event = spec.parse(raw)
                except PoisonRecord as exc:
                    self._dead(topic, partition, offset, raw, str(exc))
                    continue
                tenant_id = rec.tenant_id  # type: ignore[attr-defined]
                if not self._known_tenant(session, tenant_id):
                    self._dead(topic, partition, offset, raw, f"unknown tenant {tenant_id!r}")
                    continue
                outcome = self._fold(session, rec)
                self.metrics.records.labels(topic=spec.name, outcome=outcome).inc()
                applied += outcome == "applied"
        if applied and self.changes is not None:
            self.changes.bump()  # committed: the API's kept instance pages are read again
        return applied

    def _fold(self, session: Session, rec: Event) -> str:
        fold_ledger(session, rec)
        if isinstance(rec, AnomalyRecord):
            return self._fold_anomaly(session, rec)
        if isinstance(rec, WasteRecord):
            return fold_waste(session, rec)
        instance_id = getattr(rec, "instance_id", None)
        if instance_id is None:
            return "ignored"  # an action about no instance (an e-mail digest)
        tenant_id: str = rec.tenant_id  # type: ignore[attr-defined]
        row = session.get(InstanceView, (tenant_id, instance_id))
        if row is None:
            if isinstance(rec, ActionRecord):
                return "ignored"  # never seen by inventory or the detector: nothing to show
            row = InstanceView(
                tenant_id=tenant_id,
                instance_id=instance_id,
                account_id=rec.account_id,  # type: ignore[attr-defined]
                region=rec.region,  # type: ignore[attr-defined]
                name="",
                state="unknown",
                instance_type="",
                idle=False,
                provisional=False,
                reason="",
                monthly_waste_usd=0.0,
            )
            session.add(row)
        if isinstance(rec, InventoryRecord):
            done = apply_inventory(row, rec)
        elif isinstance(rec, DetectionRecord):
            done = apply_detection(row, rec)
        else:
            assert isinstance(rec, ActionRecord)
            done = apply_action(row, rec)
        return "applied" if done else "stale"

    def _fold_anomaly(self, session: Session, rec: AnomalyRecord) -> str:
        row = session.get(AnomalyView, (rec.tenant_id, rec.incident_id))
        if row is None:
            row = AnomalyView(tenant_id=rec.tenant_id, incident_id=rec.incident_id)
            session.add(row)
        return "applied" if apply_anomaly(row, rec) else "stale"

    def run(self, consumer: KafkaConsumer, stop: threading.Event, max_records: int = 1000) -> None:
        """Poll, apply, commit offsets; until ``stop`` is set."""
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=500, max_records=max_records)
            records = [r for batch in polled.values() for r in batch]
            if not records:
                continue
            self.apply((r.topic, r.partition, r.offset, r.value) for r in records)
            if self.dead_letter is not None:
                self.dead_letter.flush(timeout=30)
            consumer.commit()
            newest = max(r.timestamp for r in records) / 1000.0
            self.metrics.lag_seconds.set(max(0.0, datetime.now(UTC).timestamp() - newest))


def make_consumer(kafka: KafkaSettings, api: ApiSettings, topics: list[str]) -> KafkaConsumer:
    """The projector's consumer: its own group, from the earliest record, manual commits."""
    try:
        return KafkaConsumer(
            *topics,
            **kafka_python_config(
                kafka,
                group_id=api.projector_group_id,
                client_id="spendsense-projector",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=1000,
                # a topic created after the consumer joined (or whose partitions had no
                # leader yet) is picked up within seconds, not after the default 5 minutes
                metadata_max_age_ms=5000,
            ),
        )
    except KafkaError as exc:
        raise ServiceError(
            f"cannot reach Kafka at {kafka.bootstrap_servers} ({type(exc).__name__}): "
            "start it with `spendsense kafka start`"
        ) from None
