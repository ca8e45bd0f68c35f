"""Topic names and their contracts: one place, shared by producers, consumers, Faust and the
broker set-up.

Each topic's :class:`TopicSpec` names its record type (a model of :mod:`spendsense.events`)
and its key (the record's field the key is made of). Producers go through the spec
(:meth:`TopicSpec.encode`: the key from the record, JSON value) and consumers parse with it
(:meth:`TopicSpec.parse`), so a topic's key and schema are written down once.

>>> [t.name for t in TOPICS]  # doctest: +NORMALIZE_WHITESPACE
['inventory', 'metrics', 'detections', 'actions', 'feedback', 'tenant-settings', 'deadletter',
 'anomalies', 'accounts', 'waste']
>>> topic_spec("inventory").compacted, topic_spec("tenant-settings").compacted
(True, True)
>>> letter = DeadLetter.of("metrics", b"{not json", "json: bad")
>>> DEADLETTER_SPEC.encode(letter)[0]
b'metrics'
>>> DEADLETTER_SPEC.parse(DEADLETTER_SPEC.encode(letter)[1]) == letter
True
>>> METRICS_SPEC.encode(letter)
Traceback (most recent call last):
...
TypeError: metrics carries MetricPollRecord, not DeadLetter
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from spendsense.events import (
    AccountRecord,
    ActionRecord,
    AnomalyRecord,
    DeadLetter,
    DetectionRecord,
    Event,
    FeedbackRecord,
    InventoryRecord,
    MetricPollRecord,
    TenantSettingsRecord,
    WasteRecord,
    parse_event,
)
from spendsense.settings import KafkaSettings

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class TopicSpec(Generic[E]):
    """A topic the project owns: its name, the record it carries, the record's field it is
    keyed by, and whether it holds state (compacted)."""

    name: str
    record: type[E]
    key: str
    compacted: bool = False
    partitions_setting: str = "partitions"

    def key_of(self, record: E) -> str:
        """The record's key on this topic."""
        return str(getattr(record, self.key))

    def encode(self, record: Event) -> tuple[bytes, bytes]:
        """``(key, value)`` bytes of one record, checked to be this topic's record type."""
        if not isinstance(record, self.record):
            raise TypeError(
                f"{self.name} carries {self.record.__name__}, not {type(record).__name__}"
            )
        return self.key_of(record).encode(), record.to_bytes()

    def parse(self, raw: bytes | str | None) -> E:
        """One record of this topic, or :class:`~spendsense.errors.PoisonRecord` with why."""
        return parse_event(self.record, raw)


INVENTORY = "inventory"
METRICS = "metrics"
DETECTIONS = "detections"
ACTIONS = "actions"
FEEDBACK = "feedback"
TENANT_SETTINGS = "tenant-settings"
DEADLETTER = "deadletter"
ANOMALIES = "anomalies"
ACCOUNTS = "accounts"
WASTE = "waste"

INVENTORY_SPEC = TopicSpec(INVENTORY, InventoryRecord, key="instance_id", compacted=True)
METRICS_SPEC = TopicSpec(
    METRICS, MetricPollRecord, key="instance_id", partitions_setting="metrics_partitions"
)
DETECTIONS_SPEC = TopicSpec(DETECTIONS, DetectionRecord, key="instance_id")
ACTIONS_SPEC = TopicSpec(ACTIONS, ActionRecord, key="tenant_id")
FEEDBACK_SPEC = TopicSpec(FEEDBACK, FeedbackRecord, key="instance_id")
ANOMALIES_SPEC = TopicSpec(ANOMALIES, AnomalyRecord, key="instance_id")
TENANT_SETTINGS_SPEC = TopicSpec(
    TENANT_SETTINGS, TenantSettingsRecord, key="tenant_id", compacted=True
)
# keyed by the broker-side name of the topic the record could not be processed from
DEADLETTER_SPEC = TopicSpec(DEADLETTER, DeadLetter, key="source_topic")
# the collectors' group shares this topic's partitions: each account is collected by the
# process holding its key's partition (ingest.assignment)
ACCOUNTS_SPEC = TopicSpec(ACCOUNTS, AccountRecord, key="key", compacted=True)
# resources other than instances and their verdicts (waste/), folded by the projector
WASTE_SPEC = TopicSpec(WASTE, WasteRecord, key="key", compacted=True)

TOPICS: tuple[TopicSpec[Any], ...] = (
    INVENTORY_SPEC,
    METRICS_SPEC,
    DETECTIONS_SPEC,
    ACTIONS_SPEC,
    FEEDBACK_SPEC,
    TENANT_SETTINGS_SPEC,
    DEADLETTER_SPEC,
    ANOMALIES_SPEC,
    ACCOUNTS_SPEC,
    WASTE_SPEC,
)


def topic_spec(name: str) -> TopicSpec[Any]:
    """The spec of one of the project's topics."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def topic_name(kafka: KafkaSettings, name: str) -> str:
    """The broker-side name: the setting's prefix (used by tests to isolate runs) plus the name.

    >>> topic_name(KafkaSettings(topic_prefix="t1-"), METRICS)
    't1-metrics'
    """
    return f"{kafka.topic_prefix}{name}"


def partitions_for(kafka: KafkaSettings, spec: TopicSpec[Any]) -> int:
    """The partition count a topic is created with."""
    return int(getattr(kafka, spec.partitions_setting))
