"""The detector worker's topics and table, declared on its Faust app.

Every broker-side name goes through :func:`spendsense.topics.topic_name`, so a test's prefix
isolates it; the table's changelog topic is named after the app id, which carries the prefix
too. Topic values are raw bytes (JSON records parsed with their topic's spec,
:meth:`spendsense.topics.TopicSpec.parse`); the table's values are JSON text.

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

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.types import TopicT
from faust.types.tables import TableT

from spendsense.settings import KafkaSettings
from spendsense.topics import METRICS, topic_name

STATE_TABLE = "instance-state"


@dataclass(frozen=True)
class DetectorChannels:
    """What the detector agent reads and keeps."""

    metrics: TopicT
    states: TableT


@lru_cache(maxsize=262144)
def key_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class KeyPartitionedTable(faust.Table):
    """A table whose changelog partition follows the key, not the event being processed."""

    def partition_for_key(self, key: Any) -> int:
        assert self.partitions is not None
        return key_partition(str(key), self.partitions)


def declare_channels(app: faust.App, kafka: KafkaSettings) -> DetectorChannels:
    """Declare the detector's input topic and its state table on ``app``."""
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
    return DetectorChannels(metrics=metrics_topic(app, kafka), states=states)


def metrics_topic(app: faust.App, kafka: KafkaSettings) -> TopicT:
    """The ``metrics`` topic, keys and values as raw bytes."""
    return app.topic(
        topic_name(kafka, METRICS),
        key_type=str,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
