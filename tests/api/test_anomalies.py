"""An instance's usage anomalies in the API (its own tenant's only), and the organisation's
choice of which anomalies alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.orm import Session

from projector.projection import apply_anomaly
from spendsense.store.models import AnomalyView
from tests.api.conftest import RUNAWAY_CPU, User, anomaly_record, random_instance_id, seed_instance

T0 = datetime(2026, 11, 27, 3, tzinfo=UTC)


def _project(db: Session, *records: object) -> None:
    """Fold anomaly records into the table as the projector does."""
    for rec in records:
        row = db.get(AnomalyView, (rec.tenant_id, rec.incident_id))  # type: ignore[attr-defined]
        if row is None:
            row = AnomalyView(tenant_id=rec.tenant_id, incident_id=rec.incident_id)  # type: ignore[attr-defined]
            db.add(row)
        apply_anomaly(row, rec)  # type: ignore[arg-type]
    db.commit()


def test_an_instance_s_anomalies_newest_first_and_only_for_its_tenant(
    api_app: FastAPI, alice: User, bob: User, db: Session
) -> None:
    iid = random_instance_id()
    seed_instance(db, alice.tenant_id, iid)
    older = anomaly_record(alice.tenant_id, iid, T0, status="closed")
    newer = anomaly_record(
        alice.tenant_id,
        iid,
        T0 + timedelta(days=1),
        **RUNAWAY_CPU,
    )
    _project(db, older, newer)

    listed = alice.client.get(f"/api/instances/{iid}/anomalies")
    assert listed.status_code == 200
    assert [(a["metric"], a["status"]) for a in listed.json()] == [
        ("cpu_percent", "open"),
        ("network_out_bytes", "closed"),
    ]
    surge = listed.json()[1]
    assert surge["ended_at"] is not None and surge["dollars_per_hour"] == 2.7
    assert (surge["expected_low"], surge["expected_high"], surge["direction"]) == (1e5, 5e6, "up")
    detail = alice.client.get(f"/api/instances/{iid}/detail").json()
    assert detail["anomalies"] == listed.json()

    # another tenant: the same answer as an instance that exists nowhere
    theirs = bob.client.get(f"/api/instances/{iid}/anomalies")
    nowhere = bob.client.get(f"/api/instances/{random_instance_id()}/anomalies")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["error"]["code"] == nowhere.json()["error"]["code"] == "not_found"


def test_anomaly_alert_setting_defaults_to_any_direct_cost_and_saves(alice: User) -> None:
    url = "/api/settings/anomaly-alerts"
    assert alice.client.get(url).json() == {"mode": "priced", "min_usd_per_hour": 0.0}
    headers = {"X-CSRF-Token": alice.csrf}
    saved = alice.client.put(url, json={"mode": "priced", "min_usd_per_hour": 1.5}, headers=headers)
    assert saved.status_code == 200
    assert alice.client.get(url).json() == {"mode": "priced", "min_usd_per_hour": 1.5}
    assert alice.client.put(url, json={"mode": "none"}, headers=headers).json()["mode"] == "none"

    bad = alice.client.put(url, json={"mode": "some"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith(
        "mode: Input should be 'all', 'priced' or 'none'"
    )
    negative = alice.client.put(url, json={"mode": "all", "min_usd_per_hour": -1}, headers=headers)
    assert negative.status_code == 422
    assert negative.json()["error"]["message"].startswith("min_usd_per_hour:")
    assert alice.client.get(url).json()["mode"] == "none"
