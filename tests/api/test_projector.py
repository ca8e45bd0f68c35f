"""The projector on the real broker: inventory, detections and actions folded into ``instances``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from projector.projection import Projector, ProjectorMetrics
from spendsense.events import ActionRecord, DetectionRecord, InventoryRecord
from spendsense.metrics import CollectorRegistry
from spendsense.producer import make_producer
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import create_tenant, open_store
from spendsense.store.models.api import InstanceView
from spendsense.topics import ACTIONS, DETECTIONS, INVENTORY, topic_name
from tests.api.conftest import projector_setup, running_projector
from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.kafka

ACCOUNT = "111111111111"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def inventory(iid: str, state: str, at: datetime, tenant: str = "acme") -> InventoryRecord:
    return InventoryRecord(
        tenant_id=tenant,
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=iid,
        name="batch-7",
        state=state,
        instance_type="m5.large",
        launch_time=T0 - timedelta(days=30),
        tags={"Name": "batch-7", "team": "data"},
        observed_at=at,
    )


def test_projection_moves_forward_only_and_dead_letters_what_it_cannot_use(
    kafka: KafkaSettings, postgres_server: PostgresServer
) -> None:
    store, settings = projector_setup(kafka, postgres_server)
    iid = "i-0123456789abcdef0"
    detection = DetectionRecord(
        tenant_id="acme",
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=iid,
        timestamp=T0 + timedelta(hours=1),
        score=0.93,
        idle=True,
        idle_since=T0,
        confidence=0.82,
        reason="flat CPU",
        monthly_waste_usd=70.08,
        rest_cpu_percent=1.4,
        rest_network_bps=850.0,
    )
    stop = ActionRecord(
        tenant_id="acme",
        account_id=ACCOUNT,
        instance_id=iid,
        action="stop",
        actor="ops@acme.test",
        result="stopped",
        at=T0 + timedelta(hours=2),
    )
    producer = make_producer(kafka, client_id="projector-test")
    sends = [
        (INVENTORY, iid, inventory(iid, "running", T0 + timedelta(minutes=30)).to_bytes()),
        (INVENTORY, iid, inventory(iid, "stopped", T0).to_bytes()),  # older: ignored
        (DETECTIONS, iid, detection.to_bytes()),
        (DETECTIONS, iid, detection.model_copy(update={"timestamp": T0, "idle": False}).to_bytes()),
        (ACTIONS, "acme", stop.to_bytes()),
        (
            INVENTORY,
            "i-0fff",
            inventory("i-0fffffffffffffff0", "running", T0, tenant="ghost").to_bytes(),
        ),
        (DETECTIONS, iid, b"{not json"),
    ]
    for topic, key, value in sends:
        producer.send(topic_name(kafka, topic), key=key.encode(), value=value)
    producer.flush(10)
    producer.close(10)

    with running_projector(settings, store.sessions) as projector:
        records = projector.metrics.records
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = sum(
                records.labels(topic=t, outcome=o)._value.get()
                for t in (INVENTORY, DETECTIONS, ACTIONS)
                for o in ("applied", "stale", "ignored", "deadletter")
            )
            if seen >= len(sends):
                break
            time.sleep(0.2)
        assert records.labels(topic=INVENTORY, outcome="stale")._value.get() == 1
        assert records.labels(topic=DETECTIONS, outcome="stale")._value.get() == 1
        assert records.labels(topic=INVENTORY, outcome="deadletter")._value.get() == 1
        assert records.labels(topic=DETECTIONS, outcome="deadletter")._value.get() == 1

    with store.sessions() as session:
        row = session.get(InstanceView, ("acme", iid))
        assert row is not None
        assert (row.name, row.instance_type, row.tags["team"]) == ("batch-7", "m5.large", "data")
        assert row.idle and row.idle_score == 0.93 and row.monthly_waste_usd == 70.08
        assert row.idle_since == T0 and row.reason == "flat CPU"
        assert (row.status, row.confidence) == ("idle", 0.82)
        assert (row.rest_cpu_percent, row.rest_network_bps) == (1.4, 850.0)
        # the stop shows as stopping until an inventory newer than the stop says otherwise
        assert row.state == "stopping" and row.last_action == "stop:stopped"
        assert session.get(InstanceView, ("ghost", "i-0fffffffffffffff0")) is None
    store.dispose()


def test_a_provisional_verdict_is_kept_until_a_person_says_not_idle(
    postgres_server: PostgresServer,
) -> None:
    store = open_store(StoreSettings(url=postgres_server.create_database()))
    with store.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id="acme")
    kafka = KafkaSettings()
    projector = Projector(store.sessions, kafka, ProjectorMetrics.create(CollectorRegistry()))
    iid = "i-0123456789abcdef1"
    looks_idle = DetectionRecord(
        tenant_id="acme",
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=iid,
        timestamp=T0,
        score=0.99,  # novel, which says nothing about idleness
        idle=False,
        provisional=True,
        idle_since=T0 - timedelta(hours=5),
        confidence=0.41,
        reason="at its rest level for 5 hours; 1 day of history cannot tell a daily job",
        rest_cpu_percent=2.0,
        rest_network_bps=1200.0,
    )
    said = ActionRecord(
        tenant_id="acme",
        account_id=ACCOUNT,
        instance_id=iid,
        action="not-idle",
        actor="ops@acme.test",
        result="recorded",
        at=T0 + timedelta(minutes=1),
    )
    projector.apply([(topic_name(kafka, DETECTIONS), 0, 0, looks_idle.to_bytes())])
    with store.sessions() as session:
        row = session.get(InstanceView, ("acme", iid))
        assert row is not None
        assert (row.status, row.confidence, row.monthly_waste_usd) == ("provisional", 0.41, 0.0)
    projector.apply([(topic_name(kafka, ACTIONS), 0, 0, said.to_bytes())])
    with store.sessions() as session:
        row = session.get(InstanceView, ("acme", iid))
        assert row is not None and row.status == "active"
    store.dispose()
