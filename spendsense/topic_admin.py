"""Creating and deleting the project's topics on a running broker (any broker: the local
one, or production's), through kafka-python's admin client."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from spendsense.errors import ConfigError, ServiceError
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import KafkaSettings
from spendsense.topics import TOPICS, partitions_for, topic_name


def create_topics(settings: KafkaSettings) -> list[str]:
    """Create the project's topics that do not exist yet; returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**kafka_python_config(settings, client_id="spendsense-admin"))
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                name=topic_name(settings, spec.name),
                num_partitions=partitions_for(settings, spec),
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
            )
            for spec in TOPICS
            if topic_name(settings, spec.name) not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            _wait_for_leaders(admin, {t.name: t.num_partitions for t in new})
        return [t.name for t in new]
    finally:
        admin.close()


def delete_topics(settings: KafkaSettings, pattern: re.Pattern[str] | None = None) -> list[str]:
    """Delete every topic whose name starts with ``settings.topic_prefix`` (which must not be
    empty), or matches ``pattern`` from its start if given: the project's topics and any others
    (Faust changelogs) made under the prefix. Returns their names."""
    from kafka import KafkaAdminClient

    if pattern is None and not settings.topic_prefix:
        raise ConfigError("refusing to delete topics without a topic prefix")
    admin = KafkaAdminClient(**kafka_python_config(settings, client_id="spendsense-admin"))
    try:
        names = admin.list_topics()
        if pattern is None:
            mine = [t for t in names if t.startswith(settings.topic_prefix)]
        else:
            mine = [t for t in names if pattern.match(t)]
        for start in range(0, len(mine), 500):  # one request stays small
            admin.delete_topics(mine[start : start + 500])
        return mine
    finally:
        admin.close()


def _wait_for_leaders(admin: Any, partitions: dict[str, int], timeout_s: float = 30.0) -> None:
    """Wait until every partition of the new topics has a leader: clients that use them at
    once would otherwise log "not found" errors until the broker's metadata catches up."""
    deadline = time.monotonic() + timeout_s
    while True:
        led = {
            t["name"]: sum(1 for p in t["partitions"] if p["leader_id"] >= 0)
            for t in admin.describe_topics(list(partitions))
            if t["error_code"] == 0
        }
        if all(led.get(name, 0) >= count for name, count in partitions.items()):
            return
        if time.monotonic() > deadline:
            missing = sorted(n for n, c in partitions.items() if led.get(n, 0) < c)
            raise ServiceError(f"topics without a leader after {timeout_s:.0f} s: {missing}")
        time.sleep(0.1)
