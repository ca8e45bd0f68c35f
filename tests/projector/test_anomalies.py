"""The projector folds ``anomalies`` into the ``anomalies`` table through the real broker: one
row per incident, opened then closed, and replaying the topic changes nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from spendsense.producer import make_producer
from spendsense.settings import KafkaSettings
from spendsense.store.models import AnomalyView
from spendsense.topics import ANOMALIES, topic_name
from tests.api.conftest import RUNAWAY_CPU, anomaly_record, projector_setup, running_projector
from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.kafka

IID = "i-0123456789abcdef0"
T0 = datetime(2026, 11, 27, 3, tzinfo=UTC)


def _publish(kafka: KafkaSettings, values: list[bytes]) -> None:
    producer = make_producer(kafka, client_id="projector-anomaly-test")
    for value in values:
        producer.send(topic_name(kafka, ANOMALIES), key=IID.encode(), value=value)
    producer.flush(10)
    producer.close(10)


def _wait_for(projector_records: object, outcome: str, count: int) -> None:
    deadline = time.monotonic() + 60
    counter = projector_records.labels(topic=ANOMALIES, outcome=outcome)  # type: ignore[attr-defined]
    while time.monotonic() < deadline and counter._value.get() < count:
        time.sleep(0.2)
    assert counter._value.get() == count, (outcome, counter._value.get())


def test_an_incident_is_one_row_opened_then_closed_and_a_replay_changes_nothing(
    kafka: KafkaSettings, postgres_server: PostgresServer
) -> None:
    store, settings = projector_setup(kafka, postgres_server)
    opened = anomaly_record("acme", IID, T0)
    closed = anomaly_record("acme", IID, T0, status="closed", observed=4.1e9)
    other = anomaly_record(
        "acme",
        IID,
        T0 + timedelta(days=1),
        **RUNAWAY_CPU,
    )

    with running_projector(settings, store.sessions) as projector:
        _publish(kafka, [opened.to_bytes()])
        _wait_for(projector.metrics.records, "applied", 1)
        with store.sessions() as session:
            row = session.get(AnomalyView, ("acme", opened.incident_id))
            assert row is not None
            assert (row.status, row.ended_at, row.metric, row.direction) == (
                "open",
                None,
                "network_out_bytes",
                "up",
            )
            assert (row.expected_low, row.expected_high, row.dollars_per_hour) == (1e5, 5e6, 2.7)

        _publish(kafka, [closed.to_bytes(), other.to_bytes()])
        _wait_for(projector.metrics.records, "applied", 3)
        # the whole topic again, as after a crash before the offsets were committed
        _publish(kafka, [opened.to_bytes(), closed.to_bytes()])
        _wait_for(projector.metrics.records, "stale", 1)
        _wait_for(projector.metrics.records, "applied", 4)  # the closed replay: same values

    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnomalyView)) == 2
        row = session.get(AnomalyView, ("acme", opened.incident_id))
        assert row is not None
        assert (row.status, row.ended_at, row.observed) == (
            "closed",
            T0 + timedelta(hours=2),
            4.1e9,
        )
        cpu = session.get(AnomalyView, ("acme", other.incident_id))
        assert cpu is not None and cpu.status == "open" and cpu.dollars_per_hour is None
        assert cpu.cost_basis == "no direct cost: a possible compromise"
    store.dispose()
