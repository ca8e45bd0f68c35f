"""Instances and costs: what the dashboard reads, scoped to the caller's tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spendsense.store.models import CostCache
from tests.api.conftest import User, random_instance_id, seed_instance


def test_instances_list_idle_first_with_summary(alice: User, bob: User, db: Session) -> None:
    busy, idle_cheap, idle_dear = random_instance_id(), random_instance_id(), random_instance_id()
    seed_instance(db, alice.tenant_id, busy)
    seed_instance(db, alice.tenant_id, idle_cheap, idle=True, waste=10.0)
    seed_instance(db, alice.tenant_id, idle_dear, idle=True, waste=90.5)
    seed_instance(db, alice.tenant_id, random_instance_id(), state="stopped")
    seed_instance(db, bob.tenant_id, random_instance_id(), idle=True, waste=1000.0)

    page = alice.client.get("/api/instances").json()
    assert [i["instance_id"] for i in page["items"][:3]] == [idle_dear, idle_cheap, busy]
    assert page["summary"] == {"total": 4, "running": 3, "idle": 2, "monthly_waste_usd": 100.5}
    first = page["items"][0]
    assert first["idle"] and first["reason"] and first["stoppable"]
    assert (first["status"], first["confidence"]) == ("idle", 0.87)

    only_idle = alice.client.get("/api/instances", params={"idle": "true", "limit": 1}).json()
    assert only_idle["total"] == 2 and len(only_idle["items"]) == 1


def test_instances_show_the_verdict_and_its_confidence_never_the_novelty_score(
    alice: User, db: Session
) -> None:
    idle, provisional, active = random_instance_id(), random_instance_id(), random_instance_id()
    seed_instance(db, alice.tenant_id, idle, idle=True, waste=40.0, idle_score=0.31)
    seed_instance(
        db, alice.tenant_id, provisional, provisional=True, confidence=0.55, idle_score=0.62
    )
    seed_instance(db, alice.tenant_id, active, confidence=0.9, idle_score=0.99)

    items = {i["instance_id"]: i for i in alice.client.get("/api/instances").json()["items"]}
    shown = {iid: (i["status"], i["confidence"]) for iid, i in items.items()}
    assert shown == {
        idle: ("idle", 0.87),
        provisional: ("provisional", 0.55),
        active: ("active", 0.9),
    }
    for item in items.values():
        assert "idle_score" not in item and "score" not in item
        assert not {0.31, 0.62, 0.99} & set(item.values())  # no novelty score under any name
    # waste is counted for idle ones only; one instance's own read says the same
    assert [items[i]["monthly_waste_usd"] for i in (idle, provisional, active)] == [40.0, 0.0, 0.0]
    one = alice.client.get(f"/api/instances/{provisional}").json()
    assert (one["status"], one["confidence"], one["idle"]) == ("provisional", 0.55, False)


def test_instances_that_cannot_be_stopped_say_why(alice: User, db: Session) -> None:
    iid = random_instance_id()
    seed_instance(db, alice.tenant_id, iid, idle=True, asg_name="web-asg")
    one = alice.client.get(f"/api/instances/{iid}").json()
    assert one["stoppable"] is False and "web-asg" in one["not_stoppable_reason"]


def test_costs_last_7_days_month_to_date_and_by_service(
    alice: User, bob: User, db: Session
) -> None:
    end = datetime(2026, 11, 20).date()
    lines = [
        {"day": (end - timedelta(days=d)).isoformat(), "service": "Amazon EC2", "amount_usd": 10.0}
        for d in range(25)  # 26 October .. 20 November
    ] + [{"day": end.isoformat(), "service": "Amazon S3", "amount_usd": 2.5}]
    now = datetime.now(UTC)
    db.add(
        CostCache(tenant_id=alice.tenant_id, account_id="111111111111", fetched_at=now, lines=lines)
    )
    db.add(
        CostCache(
            tenant_id=bob.tenant_id,
            account_id="222222222222",
            fetched_at=now,
            lines=[{"day": end.isoformat(), "service": "Amazon EC2", "amount_usd": 999.0}],
        )
    )
    db.commit()
    costs = alice.client.get("/api/costs").json()
    assert costs["as_of"] == "2026-11-20"
    assert [d["amount_usd"] for d in costs["daily"]] == [10.0] * 6 + [12.5]
    assert costs["last_7_days_usd"] == 72.5
    assert costs["month_to_date_usd"] == 202.5  # 1..20 November only
    assert costs["by_service"][0] == {"service": "Amazon EC2", "amount_usd": 200.0}


def test_costs_without_data_are_zero_not_an_error(alice: User) -> None:
    costs = alice.client.get("/api/costs").json()
    assert costs["accounts"] == 0 and costs["month_to_date_usd"] == 0.0 and len(costs["daily"]) == 7
