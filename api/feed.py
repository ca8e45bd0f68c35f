"""The live feed: detections and actions read from Kafka, fanned out per tenant.

One consumer per API process (no consumer group, starting at the end of each
partition) reads the ``detections`` and ``actions`` topics and hands each record to
the queues of that record's tenant's open Server-Sent Events connections. It starts
with the first subscriber, so an API without Kafka still serves everything else.

>>> hub = FeedHub.__new__(FeedHub)
>>> FeedHub.format_event("detection", {"instance_id": "i-0abc1234"})
'event: detection\\ndata: {"instance_id": "i-0abc1234"}\\n\\n'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, defaultdict
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from api.metrics import ApiMetrics
from api.schemas.feed import FeedDetection
from spendsense.errors import PoisonRecord
from spendsense.events import DetectionRecord, Event
from spendsense.kafka_clients import aiokafka_config
from spendsense.settings import KafkaSettings
from spendsense.topics import ACTIONS_SPEC, DETECTIONS_SPEC, TopicSpec, topic_name

log = logging.getLogger(__name__)

QUEUE_SIZE = 500
RETRY_S = 5.0


def shown(record: Event) -> dict[str, Any]:
    """What the feed sends of a record: a detection as its verdict (:class:`FeedDetection`),
    an action as it is; never the tenant id (the connection is the tenant's)."""
    if isinstance(record, DetectionRecord):
        return FeedDetection.of(record).model_dump(mode="json")
    return record.model_dump(mode="json", exclude={"tenant_id"})


class FeedHub:
    """Fans out Kafka records to per-tenant subscriber queues."""

    def __init__(self, kafka: KafkaSettings, metrics: ApiMetrics) -> None:
        self.kafka = kafka
        self.metrics = metrics
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)
        self._per_user: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._specs: dict[str, tuple[str, TopicSpec[Any]]] = {
            topic_name(kafka, DETECTIONS_SPEC.name): ("detection", DETECTIONS_SPEC),
            topic_name(kafka, ACTIONS_SPEC.name): ("action", ACTIONS_SPEC),
        }
        self.ready = asyncio.Event()

    @staticmethod
    def format_event(kind: str, data: dict[str, Any]) -> str:
        """One Server-Sent Event."""
        return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"

    def subscribe(self, tenant_id: str, user_id: int, limit: int) -> asyncio.Queue[str] | None:
        """A queue receiving ``tenant_id``'s events, or ``None`` when ``user_id`` has
        ``limit`` open already (in this process); starts the consumer on first use."""
        if self._per_user[user_id] >= limit:
            return None
        self._per_user[user_id] += 1
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[tenant_id].add(queue)
        self.metrics.feed_subscribers.inc()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="feed-hub")
        return queue

    def unsubscribe(self, tenant_id: str, user_id: int, queue: asyncio.Queue[str]) -> None:
        self._per_user[user_id] -= 1
        if self._per_user[user_id] <= 0:
            del self._per_user[user_id]
        self._subscribers[tenant_id].discard(queue)
        if not self._subscribers[tenant_id]:
            del self._subscribers[tenant_id]
        self.metrics.feed_subscribers.dec()

    def publish(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None:
        """Hand one event to every open connection of ``tenant_id`` (dropped when one lags)."""
        message = self.format_event(kind, data)
        for queue in list(self._subscribers.get(tenant_id, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

    def dispatch(self, topic: str, raw: bytes | None) -> None:
        """Parse one record of ``topic`` and publish it to its tenant."""
        kind, spec = self._specs[topic]
        try:
            record: Event = spec.parse(raw)
        except PoisonRecord as exc:
            log.warning("live feed skipped a record on %s: %s", topic, exc)
            return
        self.metrics.feed_events.labels(topic=kind).inc()
        self.publish(record.tenant_id, kind, shown(record))  # type: ignore[attr-defined]

    @staticmethod
    async def _settle(consumer: AIOKafkaConsumer) -> None:
        """Wait for the partitions and fix each position at the end, before reading."""
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        for tp in consumer.assignment():
            await consumer.position(tp)

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                *self._specs,
                **aiokafka_config(
                    self.kafka, group_id=None, auto_offset_reset="latest", enable_auto_commit=False
                ),
            )
            try:
                await consumer.start()
                await self._settle(consumer)
                self.ready.set()
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for tp, records in batches.items():
                        for rec in records:
                            self.dispatch(tp.topic, rec.value)
            except KafkaError as exc:
                self.ready.clear()
                log.warning("live feed lost Kafka (%s); retrying in %.0fs", exc, RETRY_S)
                await asyncio.sleep(RETRY_S)
            finally:
                await consumer.stop()

    async def close(self) -> None:
        """Stop the consumer (app shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
