"""The savings ledger as the projector writes it from ``actions`` and ``inventory``: a stop
then a restart counts exactly the hours between them at the price of the stop; a replayed
action adds nothing (through the real broker too); a saving across months is split between
them; entries of one resource never overlap."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api.services.savings import Span, summarise
from projector.projection import Projector, ProjectorMetrics
from spendsense.events import ActionRecord, Event, InventoryRecord, WasteRecord
from spendsense.metrics import CollectorRegistry
from spendsense.producer import make_producer
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import Store, create_tenant, open_store
from spendsense.store.models import SavingsEntry, WasteResource
from spendsense.topics import ACTIONS, INVENTORY, WASTE, topic_name, topic_spec
from tests.api.conftest import projector_setup, running_projector
from tests.fixtures.postgres import PostgresServer

IID = "i-0123456789abcdef0"
ACCOUNT = "111111111111"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
PRICE = 0.096


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'store.db'}"))
    with store.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id="acme")
        create_tenant(session, "Other", tenant_id="other")
    yield store
    store.engine.dispose()


@pytest.fixture
def projector(store: Store) -> Projector:
    return Projector(store.sessions, KafkaSettings(), ProjectorMetrics.create(CollectorRegistry()))


def inventory(at: datetime, state: str, price: float = PRICE, **extra: object) -> InventoryRecord:
    return InventoryRecord(
        tenant_id="acme",
        account_id=ACCOUNT,
        region="us-east-1",
        instance_id=IID,
        state=state,
        instance_type="m5.large",
        launch_time=extra.pop("launch_time", T0 - timedelta(days=30)),
        hourly_price_usd=price,
        observed_at=at,
        **extra,
    )


def action(verb: str, result: str, at: datetime, **extra: object) -> ActionRecord:
    values: dict[str, object] = {
        "tenant_id": "acme",
        "account_id": ACCOUNT,
        "instance_id": IID,
        "actor": "ana@example.com",
        "decision_key": f"acme/{verb}/{uuid.uuid4().hex}",
    }
    return ActionRecord(action=verb, result=result, at=at, **(values | extra))


def topic_of(rec: Event) -> str:
    """The topic a record travels on."""
    if isinstance(rec, ActionRecord):
        return ACTIONS
    return WASTE if isinstance(rec, WasteRecord) else INVENTORY


def fold(projector: Projector, *records: Event) -> None:
    """Each record in a batch of its own, in the order given."""
    for rec in records:
        topic = topic_of(rec)
        projector.apply([(topic_name(projector.kafka, topic), 0, None, rec.to_bytes())])


def ledger(store: Store, tenant_id: str = "acme") -> list[SavingsEntry]:
    with store.sessions() as session:
        return list(
            session.scalars(
                select(SavingsEntry)
                .where(SavingsEntry.tenant_id == tenant_id)
                .order_by(SavingsEntry.started_at)
            )
        )


def saved(entries: list[SavingsEntry], now: datetime) -> float:
    spans = [
        Span(e.started_at, e.ended_at, e.hourly_price_usd, e.action_kind, e.actor) for e in entries
    ]
    return summarise(spans, now).total_usd


def test_a_stop_then_a_start_counts_the_hours_between_at_the_price_of_the_stop(
    store: Store, projector: Projector
) -> None:
    fold(projector, inventory(T0 - timedelta(minutes=5), "running"))
    fold(projector, action("stop", "stopped", T0))
    # the price changes after the stop: the entry keeps the price then
    fold(projector, inventory(T0 + timedelta(hours=1), "stopped", price=9.99))
    fold(projector, action("start", "started", T0 + timedelta(hours=7, minutes=30)))
    [entry] = ledger(store)
    assert (entry.resource_kind, entry.resource_id, entry.account_id) == ("instance", IID, ACCOUNT)
    assert (entry.action_kind, entry.actor, entry.hourly_price_usd) == (
        "stop",
        "ana@example.com",
        PRICE,
    )
    assert entry.ended_at == T0 + timedelta(hours=7, minutes=30)
    assert entry.end_reason == "start by a person"
    assert saved([entry], now=T0 + timedelta(days=5)) == round(7.5 * PRICE, 2)


def test_a_restart_outside_spendsense_ends_the_saving_at_its_launch_time(
    store: Store, projector: Projector
) -> None:
    fold(projector, inventory(T0 - timedelta(minutes=5), "running"))
    fold(projector, action("stop", "stopped", T0, actor="policy:auto-stop"))
    # an observation from before the stop, folded late, ends nothing
    fold(projector, inventory(T0 - timedelta(minutes=1), "running"))
    assert ledger(store)[0].ended_at is None
    restarted = T0 + timedelta(hours=4)
    fold(projector, inventory(T0 + timedelta(hours=5), "running", launch_time=restarted))
    [entry] = ledger(store)
    assert (entry.action_kind, entry.ended_at, entry.end_reason) == (
        "stop",
        restarted,
        "seen running",
    )
    assert saved([entry], now=T0 + timedelta(days=1)) == round(4 * PRICE, 2)


def test_a_replayed_action_adds_nothing(store: Store, projector: Projector) -> None:
    fold(projector, inventory(T0 - timedelta(minutes=5), "running"))
    stop = action("stop", "stopped", T0, actor="schedule:office-hours")
    start = action("start", "started", T0 + timedelta(hours=2), actor="schedule:office-hours")
    fold(projector, stop, start, stop, start, stop)
    [entry] = ledger(store)
    assert (entry.action_kind, entry.end_reason) == ("schedule", "start by schedule")
    assert entry.ended_at == T0 + timedelta(hours=2)


def test_actions_that_save_nothing_open_no_entry(store: Store, projector: Projector) -> None:
    fold(
        projector,
        inventory(T0 - timedelta(minutes=5), "running"),
        action("stop", "dry-run", T0, dry_run=True),
        action("stop", "refused", T0),
        action("stop", "failed", T0),
        action("not-idle", "marked", T0),
    )
    assert ledger(store) == []


def test_a_saving_across_months_is_split_between_them(store: Store, projector: Projector) -> None:
    oct_end = datetime(2026, 10, 31, 20, tzinfo=UTC)
    fold(projector, inventory(oct_end - timedelta(minutes=5), "running"))
    fold(projector, action("stop", "stopped", oct_end))
    fold(projector, action("start", "started", oct_end + timedelta(hours=10)))
    spans = [
        Span(e.started_at, e.ended_at, e.hourly_price_usd, e.action_kind, e.actor)
        for e in ledger(store)
    ]
    summary = summarise(spans, now=datetime(2026, 11, 15, tzinfo=UTC))
    assert [(m.key, m.saved_usd) for m in summary.by_month] == [
        ("2026-10", round(4 * PRICE, 2)),
        ("2026-11", round(6 * PRICE, 2)),
    ]
    assert summary.this_month_usd == round(6 * PRICE, 2)


def test_a_deletion_never_ends_and_carries_its_own_price(
    store: Store, projector: Projector
) -> None:
    deleted = action(
        "delete",
        "deleted",
        T0,
        instance_id=None,
        resource_kind="ebs-volume",
        resource_id="vol-0abc",
        hourly_price_usd=0.011,
        actor="policy:auto-delete",
    )
    fold(projector, deleted, action("start", "started", T0 + timedelta(hours=1)))
    [entry] = ledger(store)
    assert (entry.resource_kind, entry.resource_id, entry.action_kind) == (
        "ebs-volume",
        "vol-0abc",
        "delete",
    )
    assert (entry.ended_at, entry.hourly_price_usd) == (None, 0.011)
    assert saved([entry], now=T0 + timedelta(hours=100)) == round(100 * 0.011, 2)


def test_a_waste_action_is_priced_from_its_resource_and_a_database_restarts_in_7_days(
    store: Store, projector: Projector
) -> None:
    """As the waste executor publishes them: ``<kind>:<verb>``, the resource from the audit
    entry's details, no price on the record (the resource's row has it)."""
    with store.sessions.begin() as session:
        for kind, rid, monthly in (("ebs-volume", "vol-0abc", 8.0), ("rds-instance", "db1", 73.0)):
            session.add(
                WasteResource(
                    tenant_id="acme",
                    kind=kind,
                    resource_id=rid,
                    account_id=ACCOUNT,
                    region="us-east-1",
                    monthly_price_usd=monthly,
                )
            )
    waste = {"instance_id": None, "actor": "policy:waste"}
    fold(
        projector,
        action(
            "ebs-volume:snapshot-then-delete",
            "deleted",
            T0,
            resource_kind="ebs-volume",
            resource_id="vol-0abc",
            **waste,
        ),
        action(
            "rds-instance:stop",
            "stopped",
            T0,
            resource_kind="rds-instance",
            resource_id="db1",
            **waste,
        ),
        action(
            "elastic-ip:release",
            "refused",
            T0,
            resource_kind="elastic-ip",
            resource_id="eipalloc-1",
            **waste,
        ),
    )
    volume, database = sorted(ledger(store), key=lambda e: e.resource_kind)
    assert (volume.action_kind, volume.ended_at) == ("delete", None)
    assert volume.hourly_price_usd == pytest.approx(8.0 / 730)
    assert (database.action_kind, database.hourly_price_usd) == ("stop", pytest.approx(0.1))
    assert database.ended_at == T0 + timedelta(days=7)
    assert saved([database], now=T0 + timedelta(days=30)) == round(7 * 24 * 0.1, 2)


def test_a_database_started_by_a_person_ends_its_saving_when_seen_running(
    store: Store, projector: Projector
) -> None:
    with store.sessions.begin() as session:
        session.add(
            WasteResource(
                tenant_id="acme",
                kind="rds-instance",
                resource_id="db1",
                account_id=ACCOUNT,
                region="us-east-1",
                monthly_price_usd=73.0,
            )
        )
    stop = action(
        "rds-instance:stop",
        "stopped",
        T0,
        instance_id=None,
        actor="ops@acme.test",
        resource_kind="rds-instance",
        resource_id="db1",
    )

    def seen(state: str, at: datetime) -> WasteRecord:
        return WasteRecord(
            tenant_id="acme",
            account_id=ACCOUNT,
            region="us-east-1",
            kind="rds-instance",
            resource_id="db1",
            state=state,
            observed_at=at,
        )

    # still stopped an hour on, then started in the console: seen available on day 2
    fold(projector, stop, seen("stopped", T0 + timedelta(hours=1)))
    fold(projector, seen("available", T0 + timedelta(days=2)))
    (entry,) = ledger(store)
    assert (entry.ended_at, entry.end_reason) == (T0 + timedelta(days=2), "seen running")
    assert saved([entry], now=T0 + timedelta(days=30)) == round(2 * 24 * 0.1, 2)


def test_entries_of_one_resource_never_overlap(store: Store, projector: Projector) -> None:
    """A second stop while the first still saves (its restart not seen yet) ends the first
    there; a stop folded out of order ends where the later one starts."""
    fold(projector, inventory(T0 - timedelta(minutes=5), "running"))
    fold(projector, action("stop", "stopped", T0 + timedelta(hours=10)))
    fold(projector, action("stop", "stopped", T0))  # an older stop, folded late
    fold(projector, action("stop", "stopped", T0 + timedelta(hours=20)))
    entries = ledger(store)
    assert [(e.started_at - T0, e.ended_at and e.ended_at - T0) for e in entries] == [
        (timedelta(0), timedelta(hours=10)),
        (timedelta(hours=10), timedelta(hours=20)),
        (timedelta(hours=20), None),
    ]
    assert saved(entries, now=T0 + timedelta(hours=30)) == round(30 * PRICE, 2)


@pytest.mark.kafka
def test_a_replay_through_the_broker_adds_nothing(
    kafka: KafkaSettings, postgres_server: PostgresServer
) -> None:
    """The projector reads the topic again from the start (a new group): same ledger."""
    store, settings = projector_setup(kafka, postgres_server)
    records: list[Event] = [
        inventory(T0 - timedelta(minutes=5), "running"),
        action("stop", "stopped", T0),
        action("start", "started", T0 + timedelta(hours=3)),
    ]
    producer = make_producer(kafka, client_id="ledger-test")
    for rec in records:
        topic = topic_of(rec)
        key, value = topic_spec(topic).encode(rec)
        producer.send(topic_name(kafka, topic), key=key, value=value)
    producer.flush(10)
    producer.close(10)

    def ended() -> list[tuple[datetime, datetime | None]]:
        return [(e.started_at, e.ended_at) for e in ledger(store)]

    for _ in range(2):  # the second pass replays every record
        with running_projector(settings, store.sessions) as projector:
            counter = projector.metrics.records.labels(topic=ACTIONS, outcome="applied")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and counter._value.get() < 2:
                time.sleep(0.2)
        assert ended() == [(T0, T0 + timedelta(hours=3))]
    store.engine.dispose()
