"""Off-hours schedules through the API: admins define them, operators choose them for
instances (the choice wins over the tag), everyone sees each instance's next action."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session

from tests.api.conftest import User, random_instance_id, seed_instance
from tests.api.test_roles import join, send

OFFICE = {
    "name": "office",
    "time_zone": "Europe/Berlin",
    "periods": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "19:00"}],
}


def test_admins_define_schedules_and_bad_definitions_say_what_to_fix(alice: User) -> None:
    created = send(alice, "PUT", "/api/schedules", json=OFFICE)
    assert created.status_code == 201, created.text
    # a dry run until it is turned off
    assert created.json()["instances"] == 0 and created.json()["dry_run"] is True
    replaced = send(alice, "PUT", "/api/schedules", json={**OFFICE, "dry_run": False})
    assert replaced.status_code == 200 and replaced.json()["dry_run"] is False
    for bad, message in (
        ({**OFFICE, "time_zone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({**OFFICE, "periods": [{"days": ["mon"], "start": "8am", "end": "19:00"}]}, "HH:MM"),
        ({**OFFICE, "name": "no spaces please"}, "name"),
    ):
        resp = send(alice, "PUT", "/api/schedules", json=bad)
        assert resp.status_code == 422, resp.text
        assert message in resp.text
    listed = alice.client.get("/api/schedules").json()
    assert [(s["name"], s["dry_run"]) for s in listed] == [("office", False)]
    gone = send(alice, "DELETE", "/api/schedules", params={"name": "office"})
    assert gone.status_code == 200
    assert send(alice, "DELETE", "/api/schedules", params={"name": "office"}).status_code == 404


def test_operators_choose_schedules_and_everyone_sees_the_next_action(
    api_app: FastAPI, alice: User, db: Session
) -> None:
    assert send(alice, "PUT", "/api/schedules", json=OFFICE).status_code == 201
    nights = {
        **OFFICE,
        "name": "nights",
        "periods": [{"days": ["sun"], "start": "22:00", "end": "06:00"}],
    }
    assert send(alice, "PUT", "/api/schedules", json=nights).status_code == 201
    chosen, tagged = random_instance_id(), random_instance_id()
    seed_instance(db, alice.tenant_id, chosen, tags={"spendsense:schedule": "nights"})
    seed_instance(db, alice.tenant_id, tagged, tags={"spendsense:schedule": "office"})
    operator, viewer = join(api_app, alice, "operator"), join(api_app, alice, "viewer")

    url = f"/api/instances/{chosen}/schedule"
    refused = send(viewer, "PUT", url, json={"schedule": "office"})
    assert refused.status_code == 403
    assert send(viewer, "PUT", "/api/schedules", json=OFFICE).status_code == 403
    assert send(operator, "PUT", "/api/schedules", json=OFFICE).status_code == 403
    missing = send(operator, "PUT", url, json={"schedule": "weekends"})
    assert missing.status_code == 422 and "no schedule named 'weekends'" in missing.text
    assert send(operator, "PUT", url, json={"schedule": "office"}).status_code == 200

    plan = {p["instance_id"]: p for p in viewer.client.get("/api/schedules/next").json()}
    assert set(plan) == {chosen, tagged}
    # the UI's choice wins over the instance's tag
    assert (plan[chosen]["schedule"], plan[chosen]["source"]) == ("office", "ui")
    assert (plan[tagged]["schedule"], plan[tagged]["source"]) == ("office", "tag")
    for item in plan.values():
        assert item["action"] == ("stop" if item["in_period"] else "start")
        assert datetime.fromisoformat(item["at"]) > datetime.now(UTC)
        assert item["override_until"] is None
    counts = {s["name"]: s["instances"] for s in viewer.client.get("/api/schedules").json()}
    assert counts == {"nights": 0, "office": 2}

    # removing the choice: the tag applies again; removing the schedule: nothing follows it
    assert send(operator, "PUT", url, json={"schedule": None}).status_code == 200
    plan = {
        p["instance_id"]: p["schedule"] for p in viewer.client.get("/api/schedules/next").json()
    }
    assert plan == {chosen: "nights", tagged: "office"}
    assert send(alice, "DELETE", "/api/schedules", params={"name": "office"}).status_code == 200
    plan = {
        p["instance_id"]: p["schedule"] for p in viewer.client.get("/api/schedules/next").json()
    }
    assert plan == {chosen: "nights"}
