"""Poison records on the consumers that are not the detector: the actions worker and the projector.

Both run as the processes a user starts (``faust -A actions.app worker``,
``spendsense project``) on the real broker. Malformed JSON, records failing the
schema, NaN and absurd values and unknown tenants each reach the dead-letter topic
with a reason and are counted, and the good records behind them are still applied.
(The detector's own poison test is in tests/detector/test_e2e_pipeline.py.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spendsense.events import (
    ActionRecord,
    DeadLetter,
    DetectionRecord,
    InventoryRecord,
    parse_event,
)
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import create_tenant, open_store
from spendsense.store.models.api import InstanceView
from spendsense.topics import ACTIONS, DEADLETTER, DETECTIONS, INVENTORY
from tests.fixtures.detector import consume, produce
from tests.reliability.conftest import (
    LINK_KEY,
    Processes,
    free_port,
    sample,
    wait_metric,
)

ACCOUNT = "111111111111"
TENANT = "acme"
GOOD_A, GOOD_B = "i-0aaaa00000000001", "i-0bbbb00000000002"


def detection(instance: str, *, tenant: str = TENANT, minutes: int = 0) -> DetectionRecord:
    return DetectionRecord(
        tenant_id=tenant,
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=instance,
        timestamp=datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=minutes),
        score=0.1,
        idle=False,
        instance_type="t3.large",
    )


def poison_detections() -> list[tuple[str, bytes]]:
    """Five bad detections, in order: json, schema, NaN, absurd, unknown tenant."""
    text = detection(GOOD_A).model_dump_json()
    nan = text.replace('"score":0.1', '"score":NaN').encode()
    assert b"NaN" in nan
    return [
        (GOOD_A, b"{not json"),
        (GOOD_A, b'{"tenant_id": "acme", "instance_id": "i-0aaaa00000000001"}'),
        (GOOD_A, nan),
        (GOOD_A, detection(GOOD_A).model_copy(update={"score": 1e12}).to_bytes()),
        (GOOD_A, detection(GOOD_A, tenant="nobody-" + uuid.uuid4().hex[:6]).to_bytes()),
    ]


def inventory(instance: str, tenant: str = TENANT) -> InventoryRecord:
    return InventoryRecord(
        tenant_id=tenant,
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=instance,
        name="web",
        state="running",
        instance_type="t3.large",
        launch_time=datetime(2026, 1, 1, tzinfo=UTC),
        observed_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(StoreSettings(url=url))
    with store.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id=TENANT)
    store.dispose()
    return url


def base_env(kafka: KafkaSettings, store_url: str, var: Path) -> dict[str, str]:
    return {
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_VAR_DIR": str(var),
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": LINK_KEY,
    }


def test_actions_worker_dead_letters_poison_and_goes_on(
    kafka: KafkaSettings, store_url: str, tmp_path: Path, processes: Processes
) -> None:
    port = free_port()
    env = {
        **base_env(kafka, store_url, tmp_path / "var"),
        "SPENDSENSE_ACTIONS__METRICS_PORT": str(port),
        "SPENDSENSE_ACTIONS__WEB_PORT": str(free_port()),
    }
    worker = processes.start("actions", env)
    wait_metric(port, "spendsense_actions_records_total", 90, worker)
    records = [(GOOD_A, detection(GOOD_A).to_bytes()), *poison_detections()]
    records.append((GOOD_B, detection(GOOD_B, minutes=5).to_bytes()))
    produce(kafka, DETECTIONS, records)

    wait_metric(port, 'spendsense_actions_records_total{outcome="ok"} 2.0', 60, worker)
    page = wait_metric(port, '{outcome="unknown-tenant"} 1.0', 30, worker)
    letters = [parse_event(DeadLetter, v) for v in consume(kafka, DEADLETTER, 5, 30)]
    reasons = [x.reason.split(":")[0] for x in sorted(letters, key=lambda x: x.offset or 0)]
    assert reasons == ["json", "schema", "schema", "schema", "unknown-tenant"]
    assert all(x.source_topic.endswith(DETECTIONS) and x.offset is not None for x in letters)
    assert letters[0].raw == "{not json"
    assert sample(page, "spendsense_actions_records_total", '{outcome="poison"}') == 4
    assert sample(page, "spendsense_actions_records_total", '{outcome="unknown-tenant"}') == 1
    assert worker.alive()


def test_projector_dead_letters_poison_on_every_topic_and_goes_on(
    kafka: KafkaSettings, store_url: str, tmp_path: Path, processes: Processes
) -> None:
    port = free_port()
    env = {
        **base_env(kafka, store_url, tmp_path / "var"),
        "SPENDSENSE_API__PROJECTOR_GROUP_ID": f"projector-{kafka.topic_prefix}",
        "SPENDSENSE_API__PROJECTOR_METRICS_PORT": str(port),
    }
    projector = processes.start("projector", env)
    wait_metric(port, "spendsense_projector_batch_lag_seconds", 60, projector)
    produce(
        kafka,
        INVENTORY,
        [
            (GOOD_A, b"\xff\xfe not utf-8"),
            (GOOD_A, inventory(GOOD_A).to_bytes().replace(b"i-0aaaa", b"x-0aaaa")),
            (GOOD_A, inventory(GOOD_A, tenant="ghost").to_bytes()),
            (GOOD_A, inventory(GOOD_A).to_bytes()),
        ],
    )
    produce(kafka, DETECTIONS, [*poison_detections(), (GOOD_A, detection(GOOD_A).to_bytes())])
    stop = ActionRecord(
        tenant_id=TENANT,
        instance_id=GOOD_A,
        action="stop",
        actor="test",
        result="stopped",
        at=datetime(2026, 11, 21, tzinfo=UTC),
    )
    produce(kafka, ACTIONS, [(TENANT, b'{"action": "stop"}'), (TENANT, stop.to_bytes())])

    letters = [parse_event(DeadLetter, v) for v in consume(kafka, DEADLETTER, 9, 60)]
    by_topic: dict[str, list[str]] = {}
    for letter in sorted(letters, key=lambda x: x.offset or 0):
        assert letter.reason.startswith("projector: "), letter.reason
        short = letter.source_topic.removeprefix(kafka.topic_prefix)
        by_topic.setdefault(short, []).append(letter.reason.split(": ")[1])
    assert by_topic == {
        INVENTORY: ["json", "schema", "unknown tenant 'ghost'"],
        DETECTIONS: ["json", "schema", "schema", "schema", by_topic[DETECTIONS][-1]],
        ACTIONS: ["schema"],
    }
    assert by_topic[DETECTIONS][-1].startswith("unknown tenant 'nobody-")

    page = wait_metric(port, 'topic="actions"', 30, projector)
    dead = "spendsense_projector_records_total"
    assert sample(page, dead, '{outcome="deadletter",topic="detections"}') == 5
    assert sample(page, dead, '{outcome="deadletter",topic="inventory"}') == 3
    store = open_store(StoreSettings(url=store_url), migrate=False)
    with store.sessions() as session:
        row = session.get(InstanceView, (TENANT, GOOD_A))
        assert row is not None
        assert (row.name, row.idle_score, row.last_action) == ("web", 0.1, "stop:stopped")
    store.dispose()
    assert projector.alive()
