"""The ``collectors`` group on the real broker: a process that joins takes up its partitions
(the topic's partition count is asked on the group's own thread, never from kafka-python's IO
thread, where a metadata request cannot block: "Cannot block on net.run()")."""

from __future__ import annotations

import logging
import time

import pytest

from ingest.assignment import AccountAssignment
from spendsense.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def test_a_joining_collector_owns_every_partition_without_an_error(
    kafka: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    a = AccountAssignment(kafka, client_id="test-join")
    a.start()
    try:
        deadline = time.monotonic() + 60
        while not a.wait(0.5).everything:
            a.check()
            assert time.monotonic() < deadline, "no partitions assigned in 60 s"
        keys = [f"tenant-{n}/{n:012d}" for n in range(40)]
        assert all(a.owns(k, a.generation) for k in keys)  # the only member owns them all
    finally:
        a.close()
    # (other tests' threads may still log in this process: only this fault is looked for)
    blocked = [r.getMessage() for r in caplog.records if "Cannot block" in r.getMessage()]
    assert not blocked, blocked
