"""The reference data every detector worker reads in full: each instance's inventory and
people's feedback ("not idle", an anomaly "expected"), and each tenant's settings (its ceilings
of rest).

``inventory`` (compacted) and ``feedback`` are keyed by instance, ``tenant-settings``
(compacted) by tenant, all partitioned unlike ``metrics``, so they cannot feed a table
co-partitioned with the model state. Each worker reads the three topics in full instead,
outside the consumer group (a plain assigned consumer from the earliest offset), and keeps the
latest record per key: a compacted topic is the changelog of this view.
:meth:`ReferenceView.ready` is set once the view has caught up with the end offsets seen at
start, and :meth:`ReferenceView.catch_up` lets the agent wait for records published after that (an unknown tenant is dead-lettered only once the view has caught up).

>>> view = ReferenceView()
>>> view.apply_inventory(InventoryRecord(
...     tenant_id="t1", account_id="111111111111", region="us-east-1",
...     instance_id="i-0abc1234", state="running", instance_type="m5.large",
...     launch_time="2026-01-01T00:00:00Z", hourly_price_usd=0.096,
...     observed_at="2026-11-01T00:00:00Z"))
>>> view.knows_tenant("t1"), view.knows_tenant("t2")
(True, False)
>>> view.inventory["i-0abc1234"].instance_type
'm5.large'
>>> view.apply_tenant_settings(TenantSettingsRecord(
...     tenant_id="t1", ceiling_cpu_percent=5.0, actor="ops@example.com",
...     at="2026-11-02T00:00:00Z"))
>>> view.ceilings["t1"]
CeilingsIn(cpu_percent=5.0, network_bps=10000.0)
>>> view.apply_tenant_settings(TenantSettingsRecord(
...     tenant_id="t1", actor="ops@example.com", at="2026-11-03T00:00:00Z"))
>>> "t1" in view.ceilings  # back to the defaults
False
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import get_args

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from detector.protocol import CeilingsIn
from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.errors import PoisonRecord, ServiceError
from spendsense.events import (
    AnomalyMetric,
    FeedbackRecord,
    InventoryRecord,
    TenantSettingsRecord,
)
from spendsense.kafka_clients import aiokafka_config
from spendsense.settings import KafkaSettings
from spendsense.topics import (
    FEEDBACK,
    FEEDBACK_SPEC,
    INVENTORY,
    INVENTORY_SPEC,
    TENANT_SETTINGS,
    TENANT_SETTINGS_SPEC,
    topic_name,
)

log = logging.getLogger(__name__)

ANOMALY_METRICS: tuple[AnomalyMetric, ...] = get_args(AnomalyMetric)


async def assign_from_start(
    consumer: AIOKafkaConsumer, topics: list[str], timeout_s: float = 30.0
) -> list[TopicPartition]:
    """Assign every partition of ``topics`` to a group-less consumer, from the earliest offset."""
    deadline = time.monotonic() + timeout_s
    partitions: list[TopicPartition] = []
    for topic in topics:
        found = consumer.partitions_for_topic(topic)
        while not found:
            if time.monotonic() > deadline:
                raise ServiceError(f"topic {topic} not found on the broker")
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic)
            if not found:
                await asyncio.sleep(0.2)
        partitions += [TopicPartition(topic, p) for p in sorted(found)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return partitions


def ceilings_of(record: TenantSettingsRecord) -> CeilingsIn | None:
    """The ceilings a tenant's settings give its items, ``None`` when both are the defaults.

    >>> ceilings_of(TenantSettingsRecord(tenant_id="t1", ceiling_network_bps=2_000.0,
    ...     actor="ops@example.com", at="2026-11-02T00:00:00Z"))
    CeilingsIn(cpu_percent=10.0, network_bps=2000.0)
    """
    cpu, net = record.ceiling_cpu_percent, record.ceiling_network_bps
    if cpu is None and net is None:
        return None
    return CeilingsIn(
        cpu_percent=CPU_PERCENT.default if cpu is None else cpu,
        network_bps=NETWORK_BPS.default if net is None else net,
    )


class ReferenceView:
    """The latest inventory record and the latest "not idle" feedback time per instance, the
    latest "anomaly expected" time per instance and metric, and the ceilings of rest per
    tenant (a tenant absent from ``ceilings`` has the defaults).

    >>> view = ReferenceView()
    >>> view.apply_feedback(FeedbackRecord(tenant_id="t1", instance_id="i-0abc1234",
    ...     verdict="anomaly-expected", metric="network_out_bytes", actor="ops@example.com",
    ...     at="2026-11-02T00:00:00Z"))
    >>> view.feedback, list(view.expected["i-0abc1234"])
    ({}, ['network_out_bytes'])
    """

    def __init__(self) -> None:
        self.inventory: dict[str, InventoryRecord] = {}
        self.feedback: dict[str, datetime] = {}
        self.expected: dict[str, dict[AnomalyMetric, datetime]] = {}
        self.ceilings: dict[str, CeilingsIn] = {}
        self.tenants: set[str] = set()
        self.ready = asyncio.Event()

    def knows_tenant(self, tenant_id: str) -> bool:
        return tenant_id in self.tenants

    def apply_inventory(self, record: InventoryRecord) -> None:
        self.inventory[record.instance_id] = record
        self.tenants.add(record.tenant_id)

    def apply_feedback(self, record: FeedbackRecord) -> None:
        """A person's word: "not idle", or an anomaly's level "expected" (every metric's when
        the record names none); the latest of each is kept."""
        if record.verdict == "anomaly-expected":
            marks = self.expected.setdefault(record.instance_id, {})
            metrics = [record.metric] if record.metric is not None else list(ANOMALY_METRICS)
            for metric in metrics:
                previous = marks.get(metric)
                if previous is None or record.at > previous:
                    marks[metric] = record.at
            return
        previous = self.feedback.get(record.instance_id)
        if previous is None or record.at > previous:
            self.feedback[record.instance_id] = record.at

    def apply_tenant_settings(self, record: TenantSettingsRecord) -> None:
        """A tenant's settings as last saved: the topic's order decides (as compaction does,
        so a worker that read the whole log and one that saw every record agree)."""
        ceilings = ceilings_of(record)
        if ceilings is None:
            self.ceilings.pop(record.tenant_id, None)
        else:
            self.ceilings[record.tenant_id] = ceilings


class ReferenceReader:
    """Keeps a :class:`ReferenceView` up to date from the broker (started by the worker)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        view: ReferenceView,
        on_poison: Callable[[str, ConsumerRecord, PoisonRecord], None] | None = None,
    ) -> None:
        self.kafka = kafka
        self.view = view
        self.inventory_topic = topic_name(kafka, INVENTORY)
        self.feedback_topic = topic_name(kafka, FEEDBACK)
        self.settings_topic = topic_name(kafka, TENANT_SETTINGS)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._position: dict[TopicPartition, int] = {}
        self._progress = asyncio.Condition()
        self._on_poison = on_poison

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **aiokafka_config(
                self.kafka, enable_auto_commit=False, auto_offset_reset="earliest", group_id=None
            )
        )
        await consumer.start()
        await assign_from_start(
            consumer, [self.inventory_topic, self.feedback_topic, self.settings_topic]
        )
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="detector-context-reader")
        await self.catch_up()
        self.view.ready.set()
        log.info(
            "reference view ready: %d instances, %d tenants, %d feedback marks, "
            "%d tenants with their own ceilings",
            len(self.view.inventory),
            len(self.view.tenants),
            len(self.view.feedback),
            len(self.view.ceilings),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def catch_up(self, timeout_s: float = 30.0) -> bool:
        """Wait until the view holds every record published before this call."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))

        def caught_up() -> bool:
            return all(self._position.get(tp, 0) >= end for tp, end in ends.items() if end > 0)

        async with self._progress:
            try:
                await asyncio.wait_for(self._progress.wait_for(caught_up), timeout_s)
            except TimeoutError:
                log.warning("reference view did not catch up within %.0fs", timeout_s)
                return False
        return True

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    self._apply(record)
                    self._position[tp] = record.offset + 1
            async with self._progress:
                for tp in self._consumer.assignment():
                    self._position[tp] = max(
                        self._position.get(tp, 0), await self._consumer.position(tp)
                    )
                self._progress.notify_all()

    def _apply(self, record: ConsumerRecord) -> None:
        try:
            if record.topic == self.inventory_topic:
                if record.value is None:  # a compaction tombstone: the instance is gone
                    return
                self.view.apply_inventory(INVENTORY_SPEC.parse(record.value))
            elif record.topic == self.settings_topic:
                self.view.apply_tenant_settings(TENANT_SETTINGS_SPEC.parse(record.value))
            else:
                self.view.apply_feedback(FEEDBACK_SPEC.parse(record.value))
        except PoisonRecord as exc:
            if self._on_poison is not None:
                self._on_poison(record.topic, record, exc)
            log.warning("skipping bad record on %s@%d: %s", record.topic, record.offset, exc)
