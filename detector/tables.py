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

The store is RocksDB by default (``detector.store``; :class:`LoggedRocksStore`, one database
per partition under the worker's data directory, faust's ``rocksdb://`` store with the
rocksdict driver), so a restarted worker reads only the changelog's tail past what its disk
holds; other workers keep standby copies (``detector.standby_replicas``) and take a killed
worker's partitions over without replaying them. ``memory`` keeps everything in the process
(a restart replays the whole changelog).

>>> key_partition("i-0abc1234", 8) == key_partition("i-0abc1234", 8) < 8
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.stores import rocksdb
from faust.types import TP, TopicT
from faust.types.stores import StoreT
from faust.types.tables import CollectionT, TableT
from rocksdict import WriteBatch
from yarl import URL

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

    def _new_store_by_url(self, url: str | URL) -> StoreT:
        if URL(url).scheme != "rocksdb":
            return super()._new_store_by_url(url)
        return LoggedRocksStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )


class LoggedRocksStore(rocksdb.Store):
    """Faust's RocksDB store for :class:`KeyPartitionedTable`: each key in the database of the
    partition its key gives (not the current event's), and on disk only what the changelog
    already holds.

    A state the agent keeps for its next batch (written through the table's mapping) stays in
    memory until the broker has its changelog record (:meth:`persist`, with that record's
    offset): a worker killed in between restarts from the changelog's state, never from one
    whose detections the broker may not have (it would skip those periods as redeliveries).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unlogged: dict[bytes, bytes | None] = {}

    def _partition(self, key: bytes) -> int:
        partitions = self.table.partitions
        assert partitions is not None
        return key_partition(str(self._decode_key(key)), partitions)

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._unlogged[key] = value

    def _get(self, key: bytes) -> bytes | None:
        if key in self._unlogged:
            return self._unlogged[key]
        return self._db_for_partition(self._partition(key)).get(key)

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def persist(self, changes: Mapping[str, str], offsets: Mapping[int, int]) -> None:
        """Write states the changelog now holds to disk, with the changelog offset (per
        partition) up to which the disk is complete; a later state kept meanwhile stays."""
        batches: dict[int, WriteBatch] = {}
        for key, value in changes.items():
            raw_key, raw_value = self._encode_key(key), self._encode_value(value)
            if self._unlogged.get(raw_key, raw_value) == raw_value:
                self._unlogged.pop(raw_key, None)
            part = self._partition(raw_key)
            batches.setdefault(part, WriteBatch(raw_mode=True)).put(raw_key, raw_value)
        for part, batch in batches.items():
            self._db_for_partition(part).write(batch)
        topic = self.table.changelog_topic.get_topic_name()
        for part, offset in offsets.items():
            self.set_persisted_offset(TP(topic, part), offset)

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        """Forget states not yet logged of partitions going to another worker: they are its
        to score again from the changelog."""
        gone = {tp.partition for tp in tps if tp.topic in table.changelog_topic.topics}
        for key in [k for k in self._unlogged if self._partition(k) in gone]:
            del self._unlogged[key]
        super().revoke_partitions(table, tps)


def persist_logged(table: TableT, changes: Mapping[str, str], offsets: Mapping[int, int]) -> None:
    """Once the broker has a batch's changelog records (``offsets``: the changelog partition ->
    an offset among them), put ``changes`` on disk when the store keeps any (in memory they
    already are)."""
    if isinstance(table.data, LoggedRocksStore):
        table.data.persist(changes, offsets)


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
