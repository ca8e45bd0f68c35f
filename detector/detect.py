"""One batch of ``metrics`` records in, detections and dead letters out (the agent's logic).

:class:`BatchDetector` parses each record (a poll's periods of one instance, in either wire
shape: :class:`~spendsense.events.MetricPollRecord`), sends the ones that cannot be scored to
the dead-letter list with a reason, groups the rest's periods by instance (in order), reads
each instance's :class:`InstanceState` from the state mapping (the worker's changelogged
table), makes one model service call for the whole batch (each instance's item carries its
tenant's ceilings of rest from the reference view), writes the updated states back and returns
one :class:`~spendsense.events.DetectionRecord` per scored period. A period the instance's
state has already learned (a redelivery after a crash) is not learned twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel

from detector.anomalies import alerts_from, anomaly_record
from detector.client import ModelClient, ModelRejected
from detector.liveness import at_live_edge, settle
from detector.metrics import WorkerMetrics
from detector.protocol import PointIn, SeriesItem, VerdictOut
from detector.reference import ReferenceView
from spendsense.errors import PoisonRecord
from spendsense.events import AnomalyRecord, DeadLetter, DetectionRecord, MetricRecord
from spendsense.topics import METRICS_SPEC

HOURS_PER_MONTH = 730
EARLIEST_PERIOD = datetime(2006, 8, 25, tzinfo=UTC)  # EC2's first day


class InstanceState(BaseModel):
    """What the detector's table holds per instance (JSON text)."""

    model: str | None = None  # base64 of the model's bytes
    last_period: AwareDatetime | None = None
    feedback_at: AwareDatetime | None = None  # the last "not idle" mark applied
    expected_at: AwareDatetime | None = None  # the last "anomaly expected" mark applied

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | None) -> InstanceState:
        return cls() if text is None else cls.model_validate_json(text)


@dataclass(frozen=True)
class Incoming:
    """One record as the agent received it."""

    value: bytes | None
    partition: int | None = None
    offset: int | None = None


@dataclass
class BatchOutcome:
    """What a batch produced."""

    detections: list[DetectionRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    anomalies: list[AnomalyRecord] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # instance id -> new InstanceState JSON
    duplicates: int = 0


@dataclass
class Prepared:
    """A batch parsed, checked and grouped by instance, ready for one model service call."""

    outcome: BatchOutcome
    by_instance: dict[str, list[tuple[Incoming, MetricRecord]]]
    instance_states: dict[str, InstanceState]
    items: list[SeriesItem]


def monthly_waste(hourly_price_usd: float | None, idle: bool) -> float:
    """What an idle instance costs per month (730 hours); nothing when it works.

    >>> monthly_waste(0.096, True)
    70.08
    >>> monthly_waste(0.096, False), monthly_waste(None, True)
    (0.0, 0.0)
    """
    if not idle or hourly_price_usd is None:
        return 0.0
    return round(hourly_price_usd * HOURS_PER_MONTH, 2)


class BatchDetector:
    """Scores batches of raw ``metrics`` records through the model service."""

    def __init__(
        self,
        client: ModelClient,
        view: ReferenceView,
        metrics: WorkerMetrics,
        source_topic: str,
        max_future_skew_s: float = 3600.0,
        catch_up: Callable[[], Awaitable[bool]] | None = None,
        live_edge_s: float = 25_200.0,
    ) -> None:
        self.client = client
        self._catch_up = catch_up
        self.view = view
        self.metrics = metrics
        self.source_topic = source_topic
        self.max_future_skew = timedelta(seconds=max_future_skew_s)
        self.live_edge_s = live_edge_s

    def _dead(self, incoming: Incoming, reason: str, outcome: BatchOutcome) -> None:
        outcome.dead_letters.append(
            DeadLetter.of(
                self.source_topic, incoming.value, reason, incoming.partition, incoming.offset
            )
        )
        self.metrics.dead_letter(reason)

    def _dead_records(
        self, queued: Sequence[tuple[Incoming, MetricRecord]], reason: str, outcome: BatchOutcome
    ) -> None:
        """Each record behind ``queued``'s periods to the dead letters once: a poll's record
        carries several periods, and its dead letter keeps the whole record."""
        for incoming in dict.fromkeys(incoming for incoming, _ in queued):
            self._dead(incoming, reason, outcome)

    def check(self, record: MetricRecord, now: datetime) -> str | None:
        """Why a well-formed record still cannot be scored, or None when it can."""
        if not self.view.knows_tenant(record.tenant_id):
            return f"unknown-tenant: no inventory for tenant {record.tenant_id!r}"
        known = self.view.inventory.get(record.instance_id)
        if known is not None and known.tenant_id != record.tenant_id:
            return (
                f"unknown-tenant: instance {record.instance_id} belongs to another tenant, "
                f"not {record.tenant_id!r}"
            )
        if record.timestamp > now + self.max_future_skew:
            return f"absurd: period {record.timestamp.isoformat()} is in the future"
        if record.timestamp < EARLIEST_PERIOD:
            return f"absurd: period {record.timestamp.isoformat()} is before EC2 existed"
        if record.period_s <= 0 or record.period_s > 86400:
            return f"absurd: period_s {record.period_s} is not between 1 and 86400"
        return None

    async def process(self, batch: Sequence[Incoming], states: Mapping[str, str]) -> BatchOutcome:
        """Score one batch from ``states`` (instance id -> InstanceState JSON).

        The new states are in the outcome: the caller logs them to the changelog after the
        detections, so a batch cut short between the two is learned again rather than never
        reported.
        """
        return await self.score(await self.prepare(batch, states))

    async def prepare(self, batch: Sequence[Incoming], states: Mapping[str, str]) -> Prepared:
        """Parse and check a batch and group it by instance, with each instance's state read
        from ``states`` (which must hold the states of every batch scored before it)."""
        outcome = BatchOutcome()
        self.metrics.records.inc(len(batch))
        now = datetime.now(UTC)
        parsed: list[tuple[Incoming, list[MetricRecord]]] = []  # a record: a poll's periods
        for incoming in batch:
            try:
                periods = METRICS_SPEC.parse(incoming.value).records()
            except PoisonRecord as exc:
                self._dead(incoming, str(exc), outcome)
                continue
            parsed.append((incoming, periods))
        unknown = any(not self.view.knows_tenant(p[0].tenant_id) for _, p in parsed)
        if unknown and self._catch_up is not None:
            # the inventory may have been published just before these metrics: look again
            await self._catch_up()
        by_instance: dict[str, list[tuple[Incoming, MetricRecord]]] = {}
        instance_states: dict[str, InstanceState] = {}
        for incoming, periods in parsed:
            reason = next(filter(None, (self.check(r, now) for r in periods)), None)
            if reason is not None:
                self._dead(incoming, reason, outcome)
                continue
            iid = periods[0].instance_id
            if iid not in instance_states:
                instance_states[iid] = InstanceState.from_json(states.get(iid))
            queued = by_instance.setdefault(iid, [])
            for record in periods:  # the duplicate check is per period
                newest = queued[-1][1].timestamp if queued else instance_states[iid].last_period
                if newest is not None and record.timestamp <= newest:
                    outcome.duplicates += 1
                    continue
                queued.append((incoming, record))
        items = []
        for iid, records in by_instance.items():
            if not records:
                continue
            st = instance_states[iid]
            mark = self.view.feedback.get(iid)
            not_idle = mark is not None and (st.feedback_at is None or mark > st.feedback_at)
            items.append(
                SeriesItem(
                    key=iid,
                    state=st.model,
                    not_idle=not_idle,
                    ceilings=self.view.ceilings.get(records[0][1].tenant_id),
                    points=[
                        PointIn(
                            timestamp=r.timestamp,
                            cpu_percent=r.cpu_percent,
                            network_in_bytes=r.network_in_bytes,
                            network_out_bytes=r.network_out_bytes,
                        )
                        for _, r in records
                    ],
                )
            )
        self.metrics.duplicates.inc(outcome.duplicates)
        return Prepared(outcome, by_instance, instance_states, items)

    async def score(self, prepared: Prepared) -> BatchOutcome:
        """One model service call for a prepared batch: its detections, anomaly incidents and
        new states."""
        outcome, by_instance, instance_states, items = (
            prepared.outcome,
            prepared.by_instance,
            prepared.instance_states,
            prepared.items,
        )
        if not items:
            return outcome
        self._anomaly_context(prepared)
        started = time.perf_counter()
        try:
            results = await self.client.score_batch(items)
        except ModelRejected as exc:
            self.metrics.errors.labels(kind="model_rejected").inc()
            for item in items:
                self._dead_records(by_instance[item.key], f"model-rejected: {exc}", outcome)
            return outcome
        self.metrics.model_seconds.observe(time.perf_counter() - started)
        self.metrics.batches.inc()
        self.metrics.batch_records.observe(sum(len(i.points) for i in items))
        now = datetime.now(UTC)  # the live edge is judged once per batch
        for item, result in zip(items, results, strict=True):
            records = by_instance[item.key]
            st = instance_states[item.key]
            if item.not_idle:
                st.feedback_at = self.view.feedback[item.key]
                self.metrics.feedback_applied.inc()
            if item.expected:
                st.expected_at = max(self.view.expected[item.key].values())
                self.metrics.feedback_applied.inc()
            if result.error is not None:
                # the stored state was not a model's: the instance starts over with a fresh one
                self.metrics.errors.labels(kind="bad_state").inc()
                self._dead_records(records, f"model-rejected: {result.error}", outcome)
                st.model = None
                outcome.states[item.key] = st.to_json()
                continue
            st.model = result.state
            st.last_period = records[-1][1].timestamp
            outcome.states[item.key] = st.to_json()
            inventory = self.view.inventory.get(item.key)
            for (_, record), verdict in zip(records, result.verdicts, strict=True):
                outcome.detections.append(self._detection(record, verdict, now))
                outcome.anomalies += (
                    anomaly_record(record, incident, inventory) for incident in verdict.incidents
                )
        counts = Counter((d.tenant_id, d.status) for d in outcome.detections)
        for (tenant, kind), count in counts.items():
            self.metrics.detections.labels(tenant=tenant, verdict=kind).inc(count)
        return outcome

    def _anomaly_context(self, prepared: Prepared) -> None:
        """Tell each item from which period its incidents may open (the live edge) and which
        metrics' last anomaly a person called expected since its state last heard of it."""
        now = datetime.now(UTC)
        for item in prepared.items:
            first = prepared.by_instance[item.key][0][1]
            item.alerts_from = alerts_from(now, first.period_s, self.live_edge_s)
            marks = self.view.expected.get(item.key, {})
            seen = prepared.instance_states[item.key].expected_at
            item.expected = [m for m, at in marks.items() if seen is None or at > seen]

    def _detection(
        self, record: MetricRecord, verdict: VerdictOut, now: datetime
    ) -> DetectionRecord:
        inv = self.view.inventory.get(record.instance_id)
        live = at_live_edge(record.timestamp, record.period_s, now, self.live_edge_s)
        idle, provisional = settle(verdict.idle, verdict.provisional, live)
        reason = verdict.reason
        if verdict.idle and not live:
            reason = f"{reason}; provisional: a past period (backfill), alerts wait for the present"
        return DetectionRecord(
            tenant_id=record.tenant_id,
            account_id=record.account_id,
            region=record.region,
            instance_id=record.instance_id,
            timestamp=record.timestamp,
            score=min(max(verdict.score, 0.0), 1.0),
            idle=idle,
            idle_since=verdict.idle_since,
            confidence=min(max(verdict.confidence, 0.0), 1.0),
            reason=reason,
            monthly_waste_usd=monthly_waste(inv.hourly_price_usd if inv else None, idle),
            instance_type=inv.instance_type if inv else "",
            name=inv.name if inv else "",
            provisional=provisional,
            rest_cpu_percent=verdict.rest_cpu_percent,
            rest_network_bps=verdict.rest_network_bps,
        )
