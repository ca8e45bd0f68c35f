"""The actions worker as a user runs it (``faust -A actions.app worker``) on the real broker:
a detection becomes one email; inside the cooldown nothing more, even across a kill -9."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from devstack import stack
from devstack.launch import Child, launch
from spendsense.events import ActionRecord, DeadLetter, DetectionRecord, parse_event
from spendsense.ports import free_port
from spendsense.settings import KafkaSettings
from spendsense.store import Store
from spendsense.store.models import InstanceAlertState
from spendsense.topics import ACTIONS, DEADLETTER, DETECTIONS
from tests.actions.conftest import KEY, Rig
from tests.fixtures.detector import consume, produce

if TYPE_CHECKING:
    from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.kafka
FAUST = str(Path(sys.executable).parent / "faust")


def _env(kafka: KafkaSettings, sandbox: Sandbox, store: Store, var: Path) -> dict[str, str]:
    aws = sandbox.aws_settings()
    assert aws.access_key_id is not None and aws.secret_access_key is not None
    return {
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_STORE__URL": store.engine.url.render_as_string(hide_password=False),
        "SPENDSENSE_AWS__ENDPOINT_URL": sandbox.endpoint_url,
        "SPENDSENSE_AWS__ACCESS_KEY_ID": aws.access_key_id.get_secret_value(),
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": aws.secret_access_key.get_secret_value(),
        "SPENDSENSE_AWS__MAX_ATTEMPTS": "2",
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": KEY,
        "SPENDSENSE_ACTIONS__FLUSH_INTERVAL_S": "1",
        "SPENDSENSE_ACTIONS__SESSION_TIMEOUT_S": "6",
        "SPENDSENSE_ACTIONS__HEARTBEAT_INTERVAL_S": "1",
        "SPENDSENSE_VAR_DIR": str(var),
    }


def _wait(what: str, check: Callable[[], bool], child: Child, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not child.alive():
            break
        time.sleep(0.3)
    raise AssertionError(f"{what}: not seen; worker log:\n{child.log_path.read_text()[-3000:]}")


@pytest.fixture
def start_worker(
    kafka: KafkaSettings, sandbox: Sandbox, rig: Rig, tmp_path: Path
) -> Iterator[Callable[[], tuple[Child, int]]]:
    children: list[Child] = []

    def start() -> tuple[Child, int]:
        metrics_port = free_port()
        env = {
            **_env(kafka, sandbox, rig.store, tmp_path / "var"),
            "SPENDSENSE_ACTIONS__METRICS_PORT": str(metrics_port),
            "SPENDSENSE_ACTIONS__WEB_PORT": str(free_port()),
        }
        child = launch(stack.spec("actions", env=env), tmp_path / f"worker{len(children)}.log")
        children.append(child)
        return child, metrics_port

    yield start
    for child in children:  # all at once: a worker leaving rebalances the others
        if child.alive() and child.proc is not None:
            os.killpg(child.proc.pid, signal.SIGTERM)
    for child in children:
        child.stop()


def _send(kafka: KafkaSettings, *detections: DetectionRecord) -> None:
    produce(kafka, DETECTIONS, [(d.instance_id, d.to_bytes()) for d in detections])


def _seen(rig: Rig, det: DetectionRecord) -> bool:
    with rig.store.sessions() as session:
        state = session.get(InstanceAlertState, (det.tenant_id, det.instance_id))
        return state is not None and state.last_detection_at == det.timestamp


def test_one_email_per_cooldown_across_a_killed_worker(
    kafka: KafkaSettings, rig: Rig, start_worker: Callable[[], tuple[Child, int]]
) -> None:
    worker, _ = start_worker()
    first = rig.detection("i-0a1b2c3d4e5f60001")
    _send(kafka, first)
    _wait("the first email", lambda: len(rig.mail_to(rig.recipient)) == 1, worker)
    (mail,) = rig.mail_to(rig.recipient)
    links = [u for u in (mail.text or "").split() if "/links/" in u]
    assert sorted(rig.claims(u).action for u in links) == ["not-idle", "stop"]
    assert {rig.claims(u).instance_id for u in links} == {first.instance_id}

    # a second detection inside the cooldown: processed, nothing sent
    rig.clock.advance(minutes=5)
    second = rig.detection("i-0a1b2c3d4e5f60002")
    _send(kafka, second, rig.detection(first.instance_id))
    _wait("the second detection", lambda: _seen(rig, second), worker)

    # kill -9 inside the cooldown, restart, more detections: still one email
    worker.stop(signal.SIGKILL)
    rig.clock.advance(minutes=5)
    third = rig.detection("i-0a1b2c3d4e5f60003")
    _send(kafka, third)
    produce(kafka, DETECTIONS, [("junk", b"{not json")])
    restarted, port = start_worker()
    _wait("the third detection", lambda: _seen(rig, third), restarted)
    time.sleep(2)  # a few timer rounds of the restarted worker
    assert len(rig.mail_to(rig.recipient)) == 1

    records = [parse_event(ActionRecord, v) for v in consume(kafka, ACTIONS, 1, 30)]
    assert [(r.tenant_id, r.action, r.result) for r in records] == [("acme", "email", "sent")]
    (letter,) = [parse_event(DeadLetter, v) for v in consume(kafka, DEADLETTER, 1, 30)]
    assert letter.source_topic.endswith(DETECTIONS) and letter.reason.startswith("json")

    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'spendsense_actions_records_total{outcome="poison"} 1.0' in metrics
    suppressed = re.search(
        r'spendsense_actions_alerts_suppressed_total\{reason="cooldown",tenant="acme"\} (\S+)',
        metrics,
    )
    assert suppressed is not None and float(suppressed.group(1)) >= 1


def _ok_records(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r'spendsense_actions_records_total\{outcome="ok"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_two_workers_send_one_email_between_them(
    kafka: KafkaSettings, rig: Rig, start_worker: Callable[[], tuple[Child, int]]
) -> None:
    (first, port_a), (_, port_b) = start_worker(), start_worker()
    # the second worker is ready only after the group's rebalance gave both their partitions
    detections = [rig.detection(f"i-0b1b2c3d4e5f6{n:04x}") for n in range(12)]
    _send(kafka, *detections)
    _wait("all detections", lambda: all(_seen(rig, d) for d in detections), first)
    time.sleep(2)  # a few timer rounds of both workers
    assert len(rig.mail_to(rig.recipient)) == 1
    assert _ok_records(port_a) > 0 and _ok_records(port_b) > 0
    assert _ok_records(port_a) + _ok_records(port_b) == len(detections)
