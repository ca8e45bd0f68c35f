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
SESSION = uuid.uuid4().hex[:4]
"""The first 4 of those digits: this pytest session's, so its teardown deletes its own
topics and never those of another session using the same broker."""
SESSION_TOPIC = re.compile(rf"{TEST_PREFIX}{SESSION}[0-9a-f]{{6}}-")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaSettings]:
    """The real local Kafka 3.9 broker: reused when one answers, started otherwise.

    At the end this session's topics go, and a broker this session started also loses what
    earlier runs left (a broker whose data outlives the runs would gather tens of thousands
    of partitions and run out of file handles); a broker another session started keeps the
    other sessions' topics, which may be in use.
    """
    settings = get_settings().kafka
    started = False
    if not broker.broker_ready(settings):
        broker.start(settings)
        started = True
    yield settings
    topic_admin.delete_topics(settings, TEST_TOPIC if started else SESSION_TOPIC)
    if started:
        broker.stop(settings)


@pytest.fixture
def kafka(kafka_broker: KafkaSettings) -> KafkaSettings:
    """Broker settings with a topic prefix of this test's own, its topics created."""
    prefix = f"{TEST_PREFIX}{SESSION}{uuid.uuid4().hex[:6]}-"
    settings = kafka_broker.model_copy(update={"topic_prefix": prefix})
    topic_admin.create_topics(settings)
    return settings
