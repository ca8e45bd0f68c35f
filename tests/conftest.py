"""Session-wide services for the tests: each is started when nothing answers at its address.

Fixtures for the broker live here; component suites add their own beside them
(``tests/<package>/conftest.py``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from devstack import broker
from spendsense import topic_admin
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


TEST_PREFIX = "t"  # + 10 hex digits and "-": a test's own topics
TEST_TOPIC = re.compile(rf"{TEST_PREFIX}[0-9a-f]{{10}}-")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaSettings]:
    """The real local Kafka 3.9 broker: reused when one answers, started otherwise.

    At the end the tests' topics go (from earlier runs too): a broker whose data outlives
    the runs would gather tens of thousands of partitions and run out of file handles.
    """
    settings = get_settings().kafka
    started = False
    if not broker.broker_ready(settings):
        broker.start(settings)
        started = True
    yield settings
    topic_admin.delete_topics(settings, TEST_TOPIC)
    if started:
        broker.stop(settings)


@pytest.fixture
def kafka(kafka_broker: KafkaSettings) -> KafkaSettings:
    """Broker settings with a topic prefix of this test's own, its topics created."""
    prefix = f"{TEST_PREFIX}{uuid.uuid4().hex[:10]}-"
    settings = kafka_broker.model_copy(update={"topic_prefix": prefix})
    topic_admin.create_topics(settings)
    return settings
