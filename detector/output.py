"""Where the detector's agent sends detections, anomalies and dead letters, and how it stores
states.

:class:`KafkaOutput` writes a batch's records, keyed and serialised as their topics' specs
say (:mod:`spendsense.topics`), with one aiokafka record batch per partition (Kafka's default
partitioner, the same as every producer of the project uses), which costs a few
microseconds a record where a ``topic.send`` per record costs a few hundred. A batch's
new instance states go into the table's in-memory store at once (:meth:`keep_states`: the
next batch is prepared from them) and, once the broker has its detections, onto the table's
changelog topic as record batches too (:meth:`log_states`; the partition :func:`key_partition`
gives, keys and values JSON-encoded as Faust's own changelog writes them, so Faust restores
them on start and on rebalance), and once the broker has those, onto the store's disk
(:func:`~detector.tables.persist_logged`, RocksDB). :meth:`KafkaOutput.deliver` waits until
the broker has all of it.
:class:`ChannelOutput` sends to in-memory Faust channels and writes states through the table,
for agent tests under ``test_context`` where no producer runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.types import ChannelT
from faust.types.tables import TableT

from detector.tables import key_partition, persist_logged
from spendsense.events import AnomalyRecord, DeadLetter, DetectionRecord, Event
from spendsense.kafka_clients import aiokafka_config
from spendsense.settings import KafkaSettings
from spendsense.topics import (
    ANOMALIES,
    ANOMALIES_SPEC,
    DEADLETTER_SPEC,
    DETECTIONS_SPEC,
    TopicSpec,
    topic_name,
)


def encoded(spec: TopicSpec[Any], records: Sequence[Event]) -> list[tuple[str, bytes]]:
    """``(key, value)`` of each record, as ``spec`` keys and serialises them."""
    out = []
    for record in records:
        key, value = spec.encode(record)
        out.append((key.decode(), value))
    return out


def keep(table: TableT, changes: Mapping[str, str]) -> None:
    """Write ``changes`` into ``table``'s local store only (no changelog record)."""
    store = table.data
    for key, value in changes.items():
        store[key] = value


class KafkaOutput:
    """Detections, anomalies and dead letters to their topics, in record batches
    (``anomalies`` goes to the settings' name for it unless given)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        detections_topic: str,
        deadletter_topic: str,
        states: TableT,
        anomalies_topic: str | None = None,
    ) -> None:
        self.kafka = kafka
        self.detections_topic = detections_topic
        self.deadletter_topic = deadletter_topic
        self.anomalies_topic = anomalies_topic or topic_name(kafka, ANOMALIES)
        self._producer: AIOKafkaProducer | None = None
        self.states = states
        self._pending: list[asyncio.Future[Any]] = []
        self._persisted: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Connect (aiokafka wants its producer made inside the running loop)."""
        self._producer = AIOKafkaProducer(**aiokafka_config(self.kafka, acks="all", linger_ms=5))
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def _send(
        self, topic: str, records: Sequence[tuple[str, bytes]], encode_key: bool = False
    ) -> list[asyncio.Future[Any]]:
        """Send record batches; their delivery futures (also awaited by :meth:`deliver`)."""
        if not records:
            return []
        sent: list[asyncio.Future[Any]] = []
        producer = self._producer
        assert producer is not None, "KafkaOutput.start() first"
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, value in records:
            part = partitions[key_partition(key, len(partitions))]
            key_bytes = json.dumps(key).encode() if encode_key else key.encode()
            by_partition.setdefault(part, []).append((key_bytes, value))
        for part, items in by_partition.items():
            batch = producer.create_batch()
            for key_bytes, value in items:
                if batch.append(key=key_bytes, value=value, timestamp=None) is None:
                    sent.append(await producer.send_batch(batch, topic, partition=part))
                    batch = producer.create_batch()
                    batch.append(key=key_bytes, value=value, timestamp=None)
            sent.append(await producer.send_batch(batch, topic, partition=part))
        self._pending += sent
        return sent

    async def detections(self, records: Sequence[DetectionRecord]) -> None:
        await self._send(self.detections_topic, encoded(DETECTIONS_SPEC, records))

    async def dead_letters(self, records: Sequence[DeadLetter]) -> None:
        await self._send(self.deadletter_topic, encoded(DEADLETTER_SPEC, records))

    async def anomalies(self, records: Sequence[AnomalyRecord]) -> None:
        await self._send(self.anomalies_topic, encoded(ANOMALIES_SPEC, records))

    def keep_states(self, changes: Mapping[str, str]) -> None:
        """Put new states in the table's store (the next batch reads them), not yet logged."""
        keep(self.states, changes)

    async def log_states(self, changes: Mapping[str, str]) -> None:
        """Send states already kept (:meth:`keep_states`) to the table's changelog; once the
        broker has them (and those of the batches before), they go to the store's disk."""
        topic = self.states.changelog_topic.get_topic_name()
        records = [(key, json.dumps(value).encode()) for key, value in changes.items()]
        sent = await self._send(topic, records, encode_key=True)
        self._persisted = asyncio.ensure_future(self._persist(self._persisted, changes, sent))
        self._pending.append(self._persisted)

    async def _persist(
        self,
        before: asyncio.Future[None] | None,
        changes: Mapping[str, str],
        sent: list[asyncio.Future[Any]],
    ) -> None:
        if before is not None:
            await before  # in batch order
        offsets: dict[int, int] = {}
        for fut in sent:
            meta = await fut  # a record batch's base offset: at or before its last record
            offsets[meta.partition] = max(offsets.get(meta.partition, -1), meta.offset)
        persist_logged(self.states, changes, offsets)

    async def deliver(self) -> None:
        """Wait until the broker acknowledged everything sent so far (raises on a failure).

        Callers may overlap (the agent's send and its acknowledger): each waits for every
        send made before its call, not only for those no other caller is waiting for.
        """
        pending = list(self._pending)
        for fut in pending:
            await fut
        waited = set(pending)
        self._pending = [fut for fut in self._pending if fut not in waited]


class ChannelOutput:
    """Detections, anomalies and dead letters to in-memory channels (agent tests)."""

    def __init__(self, app: faust.App, states: TableT) -> None:
        self.detections_channel: ChannelT = app.channel()
        self.deadletter_channel: ChannelT = app.channel()
        self.anomalies_channel: ChannelT = app.channel()
        self.states = states

    async def detections(self, records: Sequence[DetectionRecord]) -> None:
        for key, value in encoded(DETECTIONS_SPEC, records):
            await self.detections_channel.send(key=key, value=value)

    async def dead_letters(self, records: Sequence[DeadLetter]) -> None:
        for key, value in encoded(DEADLETTER_SPEC, records):
            await self.deadletter_channel.send(key=key, value=value)

    async def anomalies(self, records: Sequence[AnomalyRecord]) -> None:
        for key, value in encoded(ANOMALIES_SPEC, records):
            await self.anomalies_channel.send(key=key, value=value)

    def keep_states(self, changes: Mapping[str, str]) -> None:
        keep(self.states, changes)

    async def log_states(self, changes: Mapping[str, str]) -> None:
        self.states.update(changes)  # through the table: Faust writes its changelog

    async def deliver(self) -> None:
        """In-memory channels hold what was sent at once."""


Output = KafkaOutput | ChannelOutput
