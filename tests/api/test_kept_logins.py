"""What an API process keeps in memory ends at once when the store changes elsewhere:
logins (``api.logins``) when a session is closed in ANY API process of the host, kept
instance pages when the projector commits or a person acts in any of them; a kept cost
summary is read again in the background once it is 2 seconds old.

Two apps on the same store and ``var_dir`` stand for two uvicorn worker processes: each
has its own kept logins, and only the revocation counter file is shared.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from api.cache import TenantCache
from projector.projection import Projector, ProjectorMetrics
from spendsense.counters import cost_changes, projection_changes
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from spendsense.store.models import CostCache
from spendsense.topics import INVENTORY, topic_name
from tests.api.conftest import (
    PASSWORD,
    User,
    new_client,
    random_instance_id,
    seed_instance,
    sign_up,
)
from tests.api.test_projector import inventory

COOKIE = "spendsense_session"


@pytest.fixture
def second_worker(api_app: FastAPI, api_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(api_settings, registry=CollectorRegistry(), migrate=False)
    with TestClient(app):
        yield app
    app.state.spendsense.engine.dispose()


def _client_with(app: FastAPI, cookie: str) -> TestClient:
    client = new_client(app)
    client.cookies.set(COOKIE, cookie)
    return client


def _csrf(user: User) -> dict[str, str]:
    return {"X-CSRF-Token": user.csrf}


def _kept(app: FastAPI, cookie: str) -> bool:
    state = app.state.spendsense
    return state.logins.get(state.keys.token_hash(cookie)) is not None


def test_logout_in_one_worker_ends_the_login_another_worker_kept(
    api_app: FastAPI, second_worker: FastAPI, alice: User
) -> None:
    cookie = alice.client.cookies.get(COOKIE)
    assert cookie
    other = _client_with(second_worker, cookie)
    assert other.get("/api/instances").status_code == 200
    assert other.get("/api/costs").status_code == 200
    assert _kept(second_worker, cookie)  # the next request would not read the store

    assert alice.client.post("/api/auth/logout", headers=_csrf(alice)).status_code == 200

    resp = other.get("/api/instances")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "not_authenticated"
    assert other.get("/api/costs").status_code == 401
    assert not _kept(second_worker, cookie)


def test_login_elsewhere_replaces_the_kept_session_everywhere(
    api_app: FastAPI, second_worker: FastAPI, alice: User
) -> None:
    old = alice.client.cookies.get(COOKIE)
    assert old
    other = _client_with(second_worker, old)
    assert other.get("/api/auth/me").status_code == 200
    assert _kept(second_worker, old)
    # logging in again through the first worker closes the old session (no reuse)
    resp = alice.client.post(
        "/api/auth/login",
        json={"email": alice.email, "password": PASSWORD},
        headers=_csrf(alice),
    )
    assert resp.status_code == 200
    assert other.get("/api/auth/me").status_code == 401
    new = resp.cookies.get(COOKIE)
    assert new and _client_with(second_worker, new).get("/api/auth/me").status_code == 200


def test_kept_logins_stay_with_their_tenant(api_app: FastAPI, alice: User, bob: User) -> None:
    for _ in range(2):  # the second round is answered from kept logins and kept pages
        a = alice.client.get("/api/auth/me").json()
        b = bob.client.get("/api/auth/me").json()
        assert (a["tenant_id"], b["tenant_id"]) == (alice.tenant_id, bob.tenant_id)
        assert alice.client.get("/api/instances").status_code == 200


def test_a_projector_commit_drops_the_kept_instance_pages_at_once(
    api_app: FastAPI, api_settings: Settings, alice: User
) -> None:
    iid = random_instance_id()
    assert alice.client.get("/api/instances").json()["total"] == 0  # now a kept page
    projector = Projector(
        api_app.state.spendsense.sessions,
        api_settings.kafka,
        ProjectorMetrics.create(CollectorRegistry()),
        changes=projection_changes(api_settings.var_dir),
    )
    record = inventory(iid, "running", datetime.now(UTC), tenant=alice.tenant_id)
    topic = topic_name(api_settings.kafka, INVENTORY)
    assert projector.apply([(topic, 0, 0, record.to_bytes())]) == 1
    # well within the page's 2 seconds: the projector's commit, not the clock, refreshed it
    page = alice.client.get("/api/instances").json()
    assert [i["instance_id"] for i in page["items"]] == [iid]
    assert page["summary"]["total"] == 1


def test_a_person_acting_in_one_worker_drops_the_pages_another_worker_kept(
    sandbox_app: FastAPI,
) -> None:
    settings: Settings = sandbox_app.state.spendsense.settings
    alice, iid = sign_up(sandbox_app), random_instance_id()
    with sandbox_app.state.spendsense.sessions() as db:
        seed_instance(db, alice.tenant_id, iid, idle=True, waste=40.0)
    worker = create_app(settings, registry=CollectorRegistry(), migrate=False)
    with TestClient(worker):
        other = _client_with(worker, alice.client.cookies.get(COOKIE) or "")
        assert other.get("/api/instances").json()["summary"]["idle"] == 1  # kept there now

        marked = alice.client.post(f"/api/instances/{iid}/not-idle", headers=_csrf(alice))
        assert marked.status_code == 200

        page = other.get("/api/instances").json()  # well within the page's 2 seconds
    worker.state.spendsense.engine.dispose()
    assert page["summary"]["idle"] == 0
    assert page["items"][0]["last_action"] == "not-idle:recorded"


def test_a_new_cost_explorer_answer_shows_once_the_kept_summary_is_2_seconds_old(
    second_worker: FastAPI, alice: User, db: Session
) -> None:
    now = [0.0]
    second_worker.state.spendsense.figures = TenantCache(ttl_s=2.0, clock=lambda: now[0])
    # one event loop for all its requests, as a server has: the background read runs on it
    with _client_with(second_worker, alice.client.cookies.get(COOKIE) or "") as other:
        _costs_refresh_in_background(other, alice, db, now)


def _costs_refresh_in_background(
    other: TestClient, alice: User, db: Session, now: list[float]
) -> None:
    assert other.get("/api/costs").json()["month_to_date_usd"] == 0.0
    today = date.today().isoformat()
    db.add(
        CostCache(
            tenant_id=alice.tenant_id,
            account_id="111111111111",
            fetched_at=datetime.now(UTC),
            lines=[{"day": today, "service": "Amazon EC2", "amount_usd": 12.5}],
        )
    )
    db.commit()
    assert other.get("/api/costs").json()["month_to_date_usd"] == 0.0  # kept, still fresh

    now[0] = 2.5  # stale: answered as kept while one background read fetches the new one
    assert other.get("/api/costs").json()["month_to_date_usd"] == 0.0
    deadline = time.monotonic() + 10
    while other.get("/api/costs").json()["month_to_date_usd"] != 12.5:
        assert time.monotonic() < deadline, "the background read never replaced the summary"
        time.sleep(0.05)


def test_a_cost_answer_a_collector_of_this_host_stored_shows_at_once(
    second_worker: FastAPI, alice: User, db: Session, var_dir: Path
) -> None:
    now = [0.0]
    second_worker.state.spendsense.figures = TenantCache(ttl_s=2.0, clock=lambda: now[0])
    other = _client_with(second_worker, alice.client.cookies.get(COOKIE) or "")
    assert other.get("/api/costs").json()["month_to_date_usd"] == 0.0
    db.add(
        CostCache(
            tenant_id=alice.tenant_id,
            account_id="111111111111",
            fetched_at=datetime.now(UTC),
            lines=[{"day": date.today().isoformat(), "service": "Amazon S3", "amount_usd": 3.0}],
        )
    )
    db.commit()
    cost_changes(var_dir).bump()  # what the collector does after storing the answer
    assert other.get("/api/costs").json()["month_to_date_usd"] == 3.0  # the clock stood still
