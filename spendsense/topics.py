"""Topic names and their layout: one place, shared by producers, Faust and the broker set-up.

>>> [t.name for t in TOPICS]
['inventory', 'metrics', 'costs', 'detections', 'actions', 'feedback', 'tenant-settings', 'deadletter']
>>> topic_spec("inventory").compacted, topic_spec("tenant-settings").compacted
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from spendsense.settings import KafkaSettings


@dataclass(frozen=True)
class TopicSpec:
    """A topic the project owns: its name, what it is keyed by, whether it holds state."""

    name: str
    key: str
    compacted: bool = False
    partitions_setting: str = "partitions"


INVENTORY = "inventory"
METRICS = "metrics"
COSTS = "costs"
DETECTIONS = "detections"
ACTIONS = "actions"
FEEDBACK = "feedback"
TENANT_SETTINGS = "tenant-settings"
DEADLETTER = "deadletter"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INVENTORY, key="instance_id", compacted=True),
    TopicSpec(METRICS, key="instance_id", partitions_setting="metrics_partitions"),
    TopicSpec(COSTS, key="tenant_id", compacted=True),
    TopicSpec(DETECTIONS, key="instance_id"),
    TopicSpec(ACTIONS, key="tenant_id"),
    TopicSpec(FEEDBACK, key="instance_id"),
    TopicSpec(TENANT_SETTINGS, key="tenant_id", compacted=True),
    TopicSpec(DEADLETTER, key="source"),
)


def topic_spec(name: str) -> TopicSpec:
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


def partitions_for(kafka: KafkaSettings, spec: TopicSpec) -> int:
    """The partition count a topic is created with."""
    return int(getattr(kafka, spec.partitions_setting))
