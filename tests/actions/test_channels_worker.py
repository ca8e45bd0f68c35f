"""The actions worker (``faust -A actions.app worker``) on the real broker posting to a
local receiver: the digest and the ``actions`` topic reach the channels once, across a
kill -9 and a restart."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from devstack.launch import Child
from spendsense.events import ActionRecord
from spendsense.settings import KafkaSettings
from spendsense.store.models import NotificationChannel
from spendsense.topics import ACTIONS
from tests.actions.conftest import Rig
from tests.actions.test_worker import _seen, _send, _wait, start_worker
from tests.fixtures.detector import produce
from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.kafka
__all__ = ["start_worker"]  # the fixture, shared with the worker's own tests


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_the_worker_notifies_channels_once_across_a_kill(
    kafka: KafkaSettings,
    rig: Rig,
    receiver: Receiver,
    start_worker: Callable[[], tuple[Child, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the receiver is on this machine: admitted by name, as an operator would admit it
    monkeypatch.setenv("SPENDSENSE_CHANNELS__ALLOW_HOSTS", '["127.0.0.1"]')
    with rig.store.sessions.begin() as session:
        for tenant in ("acme", "globex"):
            session.add(
                NotificationChannel(
                    tenant_id=tenant,
                    kind="slack",
                    name="ops",
                    url=receiver.url(f"/{tenant}"),
                    subscriptions=["idle-findings", "actions"],
                )
            )
    worker, _ = start_worker()
    idle = rig.detection("i-0c1b2c3d4e5f60001")
    _send(kafka, idle)
    _wait("the digest in Slack", lambda: len(receiver.got("/acme")) == 1, worker)
    (digest,) = receiver.got("/acme")
    assert idle.instance_id in digest.json()["blocks"][1]["text"]["text"]

    # a person stops an instance from the dashboard: the API puts it on the actions topic
    stop = ActionRecord(
        tenant_id="acme",
        instance_id="i-0c1b2c3d4e5f60002",
        action="stop",
        actor="alice@acme.test",
        reason="stopped from the dashboard",
        result="stopped",
        at=datetime.now(UTC),
    )
    produce(kafka, ACTIONS, [("acme", stop.to_bytes())])
    _wait("the stop in Slack", lambda: len(receiver.got("/acme")) == 2, worker)
    assert receiver.got("/acme")[1].json()["text"] == "stop stopped: i-0c1b2c3d4e5f60002"

    # kill -9 and restart: records read again (offsets maybe not committed) send nothing new
    worker.stop(signal.SIGKILL)
    rig.clock.advance(minutes=5)
    another = rig.detection("i-0c1b2c3d4e5f60003")
    _send(kafka, idle, another)
    produce(kafka, ACTIONS, [("acme", stop.to_bytes())])
    restarted, _ = start_worker()
    _wait("the restarted worker", lambda: _seen(rig, another), restarted)
    time.sleep(3)  # a few timer rounds
    assert len(receiver.got("/acme")) == 2
    assert receiver.got("/globex") == []
