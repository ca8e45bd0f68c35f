"""Session-wide services for the tests: each is started when nothing answers at its address.

Fixtures for the broker live here; component suites add their own beside them
(``tests/<package>/conftest.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from spendsense import broker
from spendsense.settings import KafkaSettings, get_settings

# `make test` runs --doctest-modules over tests/ too: conftest files are loaded as conftests,
# never collected as doctest modules (several share the module name "conftest").
collect_ignore_glob = ["conftest.py", "*/conftest.py"]

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
    "tests.fixtures.detector",
    "tests.fixtures.prometheus",
]


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaSettings]:
    """The real local Kafka 3.9 broker: reused when one answers, started otherwise."""
    settings = get_settings().kafka
    started = False
    if not broker.broker_ready(settings):
        broker.start(settings)
        started = True
    yield settings
    if started:
        broker.stop(settings)


@pytest.fixture
def kafka(kafka_broker: KafkaSettings) -> Iterator[KafkaSettings]:
    """Broker settings with a topic prefix of this test's own, its topics created (and
    deleted afterwards: a broker reused over many runs would gather tens of thousands)."""
    settings = kafka_broker.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}-"})
    broker.create_topics(settings)
    yield settings
    broker.delete_topics(settings)
