"""``GET /api/savings`` and ``/api/savings.csv``: each tenant sees only its own ledger, the
figures come from prices and durations, and the CSV holds every entry."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spendsense.store.models import SavingsEntry
from tests.api.conftest import User


def _entry(
    tenant_id: str, key: str, started: datetime, hours: float | None, **extra: object
) -> SavingsEntry:
    values: dict[str, object] = {
        "resource_kind": "instance",
        "resource_id": "i-0123456789abcdef0",
        "account_id": "111111111111",
        "action_kind": "stop",
        "actor": "ana@example.com",
        "hourly_price_usd": 0.5,
        "end_reason": "start by a person" if hours is not None else "",
    }
    return SavingsEntry(
        tenant_id=tenant_id,
        entry_key=key,
        started_at=started,
        ended_at=None if hours is None else started + timedelta(hours=hours),
        **(values | extra),
    )


def test_each_tenant_sees_only_its_own_savings(db: Session, alice: User, bob: User) -> None:
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (month - timedelta(days=1)).replace(day=1)
    db.add_all(
        [
            _entry(alice.tenant_id, "a1", month + timedelta(minutes=1), hours=0),
            _entry(
                alice.tenant_id,
                "a2",
                last_month,
                hours=10,
                actor="schedule:nights",
                action_kind="schedule",
            ),
            _entry(
                alice.tenant_id,
                "a3",
                last_month + timedelta(hours=12),
                hours=None,
                resource_kind="ebs-volume",
                resource_id="vol-0abc",
                action_kind="delete",
                hourly_price_usd=None,  # no price known: saves nothing
            ),
            _entry(bob.tenant_id, "b1", last_month, hours=100, hourly_price_usd=2.0),
        ]
    )
    db.commit()

    mine = alice.client.get("/api/savings")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["total_usd"] == 5.0  # 10 hours at $0.50; the zero-hour stop saved nothing
    assert body["this_month_usd"] == 0.0
    assert body["by_month"] == [  # every month an entry spans, priced or not
        {"key": last_month.strftime("%Y-%m"), "saved_usd": 5.0},
        {"key": month.strftime("%Y-%m"), "saved_usd": 0.0},
    ]
    assert {b["key"]: b["saved_usd"] for b in body["by_action_kind"]} == {
        "schedule": 5.0,
        "stop": 0.0,
        "delete": 0.0,
    }
    assert body["by_actor"][0] == {"key": "schedule:nights", "saved_usd": 5.0}
    assert [i["resource_id"] for i in body["items"]] == [
        "vol-0abc",
        "i-0123456789abcdef0",
        "i-0123456789abcdef0",
    ]
    assert body["items"][1]["hours"] == 10.0

    theirs = bob.client.get("/api/savings").json()
    assert theirs["total_usd"] == 200.0
    assert [i["actor"] for i in theirs["items"]] == ["ana@example.com"]

    page = alice.client.get("/api/savings", params={"limit": 2}).json()
    rest = alice.client.get(
        "/api/savings", params={"limit": 2, "before_id": page["next_before_id"]}
    ).json()
    assert len(page["items"]) == 2 and [i["id"] for i in rest["items"]] == [body["items"][2]["id"]]


def test_the_csv_holds_every_entry_of_the_tenant_only(db: Session, alice: User, bob: User) -> None:
    started = datetime(2026, 11, 2, 9, tzinfo=UTC)
    db.add_all(
        [
            _entry(alice.tenant_id, "c1", started, hours=3, actor="=HYPERLINK(evil)"),
            _entry(bob.tenant_id, "c2", started, hours=5),
        ]
    )
    db.commit()

    got = alice.client.get("/api/savings.csv")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 1
    [row] = rows
    assert row["actor"] == "'=HYPERLINK(evil)"  # never run as a formula
    assert (row["action_kind"], row["hours"], row["saved_usd"], row["ended_at"]) == (
        "stop",
        "3.00",
        "1.50",
        (started + timedelta(hours=3)).isoformat(),
    )


def test_the_savings_page_links_the_csv(alice: User) -> None:
    page = alice.client.get("/savings")
    assert page.status_code == 200
    assert 'href="/api/savings.csv"' in page.text
