"""The detector worker's topics and table, declared on its Faust app.

Every broker-side name goes through :func:`spendsense.topics.topic_name`, so a test's prefix
isolates it; the table's changelog topic is named after the app id, which carries the prefix
too. Topic values are raw bytes (JSON records parsed with
:func:`spendsense.events.parse_event`); the table's values are JSON text.

The ``instance-state`` table holds each instance's :class:`~detector.detect.InstanceState`. It
has as many partitions as ``metrics`` and puts each key's changelog record in the partition
Kafka's default partitioner (murmur2, as every producer of ``metrics`` uses) gives that key: a
batch holds records of several partitions, so Faust's default (the partition of the event
being processed) would misplace state; this way an instance's state sits in the same
partition number as its metric records and moves with the partition on a rebalance.

>>> key_partition("i-0abc1234", 8) == key_partition("i-0abc1234", 8) < 8
True
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.types import ChannelT, TopicT
from faust.types.tables import TableT

from spendsense.settings import KafkaSettings
from spendsense.topics import DEADLETTER, DETECTIONS, METRICS, topic_name

STATE_TABLE = "instance-state"


@dataclass(frozen=True)
class DetectorChannels:
    """What the detector agent reads and writes; ``deliver`` waits until outputs are stored."""

    metrics: TopicT
    detections: ChannelT
    deadletter: ChannelT
    states: TableT
    deliver: Callable[[], Awaitable[None]]


def key_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class KeyPartitionedTable(faust.Table):
    """A table whose changelog partition follows the key, not the event being processed."""

    def partition_for_key(self, key: Any) -> int:
        assert self.partitions is not None
        return key_partition(str(key), self.partitions)


def _raw_topic(app: faust.App, kafka: KafkaSettings, name: str) -> TopicT:
    return app.topic(
        topic_name(kafka, name),
        key_type=str,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


async def _delivered() -> None:
    """In-memory channels hold what was sent at once."""


def declare_channels(
    app: faust.App, kafka: KafkaSettings, memory_outputs: bool = False
) -> DetectorChannels:
    """Declare the detector's topics and its state table on ``app``.

    ``memory_outputs`` sends detections and dead letters to in-memory Faust channels instead
    of topics: for agent tests under ``test_context``, where no producer runs.
    """
    states: TableT = app.tables.add(  # type: ignore[assignment]
        KeyPartitionedTable(
            app,
            name=STATE_TABLE,
            beacon=app.tables.beacon,
            key_type=str,
            value_type=str,
            partitions=kafka.metrics_partitions,
            help="Per-instance model state (detector.detect.InstanceState JSON).",
        )
    )
    if memory_outputs:
        return DetectorChannels(
            metrics=_raw_topic(app, kafka, METRICS),
            detections=app.channel(),
            deadletter=app.channel(),
            states=states,
            deliver=_delivered,
        )

    async def flush_producer() -> None:
        await app.producer.flush()

    return DetectorChannels(
        metrics=_raw_topic(app, kafka, METRICS),
        detections=_raw_topic(app, kafka, DETECTIONS),
        deadletter=_raw_topic(app, kafka, DEADLETTER),
        states=states,
        deliver=flush_producer,
    )
