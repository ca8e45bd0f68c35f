"""Tenant limits (issue 13, item 5): one tenant cannot exhaust what tenants share.

An app of its own (a fresh store, low limits, no Kafka: the feed says ``kafka: false``),
so the limits are reached quickly and other tests' sign-ups do not count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

import api.routes.feed
from api.app import create_app
from ingest.runner import CollectorService
from spendsense.errors import TenantAccessError
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ApiSettings, KafkaSettings, Settings, StoreSettings
from spendsense.store import set_account_status
from tests.api.conftest import PASSWORD, User, anonymous_csrf, live_api, new_client, sign_up
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox

FEEDS = 2
SIGNUPS = 3
ACCOUNTS = 2
RECHECK_S = 1.0


@pytest.fixture
def limited_app(
    postgres_server: PostgresServer, sandbox: Sandbox, tmp_path: Path
) -> Iterator[FastAPI]:
    settings = Settings(
        _env_file=None,
        var_dir=tmp_path,
        aws=sandbox.aws_settings(),  # sign-ups are confirmed by mail (the sandbox's SES)
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),  # none: never the shared broker
        store=StoreSettings(url=postgres_server.create_database()),
        api=ApiSettings(
            session_secret=SecretStr("t" * 48),
            vendor_account_id="210987654321",
            feed_max_per_user=FEEDS,
            feed_recheck_s=RECHECK_S,
            signup_max_per_client=SIGNUPS,
            accounts_max_per_tenant=ACCOUNTS,
        ),
    )
    app = create_app(settings, registry=CollectorRegistry())
    with new_client(app):  # lifespan: migrate
        yield app
    app.state.spendsense.engine.dispose()


def cookie(user: User) -> dict[str, str]:
    return {"Cookie": f"spendsense_session={user.client.cookies.get('spendsense_session')}"}


def test_a_users_feed_connections_are_capped(limited_app: FastAPI) -> None:
    alice, bob = sign_up(limited_app), sign_up(limited_app)
    with (
        live_api(limited_app) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        ExitStack() as feeds,
    ):
        for _ in range(FEEDS):
            stream = feeds.enter_context(http.stream("GET", "/api/feed", headers=cookie(alice)))
            assert stream.status_code == 200
        refused = http.get("/api/feed", headers=cookie(alice))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        error = refused.json()["error"]
        assert error["code"] == "too_many_feeds" and "close a dashboard tab" in error["message"]
        with http.stream("GET", "/api/feed", headers=cookie(bob)) as other:  # not alice's cap
            assert other.status_code == 200
        feeds.close()  # closed feeds give their places back
        deadline = time.monotonic() + 10
        while True:
            with http.stream("GET", "/api/feed", headers=cookie(alice)) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "closed feeds were never given back"
            time.sleep(0.1)


def test_a_logged_out_sessions_feed_ends_within_the_recheck_interval(
    limited_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.routes.feed, "READY_WAIT_S", 0.1)
    alice = sign_up(limited_app)
    with (
        live_api(limited_app) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        http.stream("GET", "/api/feed", headers=cookie(alice)) as stream,
    ):
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: ready"
        logout = alice.post("/api/auth/logout")
        assert logout.status_code == 200  # type: ignore[attr-defined]
        logged_out = time.monotonic()
        received = list(lines)  # the stream ends by itself
        ended = time.monotonic() - logged_out
    assert "event: end" in received
    assert ended < RECHECK_S + 2.0, ended


def signup(app: FastAPI, n: int) -> httpx.Response:
    client = new_client(app)
    return client.post(
        "/api/auth/signup",
        json={"email": f"limit{n}-{time.time_ns()}@example.com", "password": PASSWORD},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    )


def test_signups_from_one_address_are_limited(limited_app: FastAPI) -> None:
    for n in range(SIGNUPS):
        assert signup(limited_app, n).status_code == 202
    refused = signup(limited_app, SIGNUPS)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "try again in" in error["message"]


def test_a_tenants_accounts_are_capped(limited_app: FastAPI) -> None:
    alice = sign_up(limited_app)

    def connect(account_id: str) -> httpx.Response:
        arn = f"arn:aws:iam::{account_id}:role/SpendSense"
        return alice.post("/api/accounts", json={"role_arn": arn})  # type: ignore[return-value]

    for n in range(ACCOUNTS):
        assert connect(f"{n + 1:012d}").status_code == 201
    refused = connect("999999999999")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "account_limit" and "disconnect one first" in error["message"]
    assert len(alice.client.get("/api/accounts").json()) == ACCOUNTS
    alice.client.delete(f"/api/accounts/{1:012d}", headers={"X-CSRF-Token": alice.csrf})
    assert connect("999999999999").status_code == 201


def test_a_failing_account_backs_off_and_the_settings_api_says_when(
    limited_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = sign_up(limited_app)
    arn = "arn:aws:iam::123456789012:role/SpendSense"
    assert alice.post("/api/accounts", json={"role_arn": arn}).status_code == 201  # type: ignore[attr-defined]
    state = limited_app.state.spendsense
    settings = state.settings.model_copy(
        update={
            "ingest": state.settings.ingest.model_copy(
                update={"retry_initial_s": 300.0, "retry_max_s": 1200.0}
            )
        }
    )
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    store: sessionmaker[Session] = state.sessions
    service = CollectorService(
        settings,
        store,
        producer=None,
        registry=CollectorRegistry(),
        clock=lambda: now,
        collectors=[],
    )
    attempts: list[datetime] = []

    def refuse(account: object) -> None:
        attempts.append(now)
        raise TenantAccessError("AccessDenied", "SpendSense cannot assume role " + arn)

    monkeypatch.setattr(service.ctx.sessions, "credentials", refuse)
    shown: list[str] = []
    for _ in range(60):  # five hours, one cycle every five minutes
        service.run_cycle()
        (account,) = alice.client.get("/api/accounts").json()
        shown.append(account["next_attempt_at"])
        now += timedelta(minutes=5)
    gaps = [(b - a).total_seconds() / 60 for a, b in pairwise(attempts)]
    assert gaps[:4] == [5, 10, 20, 20], gaps  # growing, then at most retry_max_s
    assert account["status"] == "error" and account["failures"] == len(attempts)
    last = datetime.fromisoformat(shown[-1])
    assert last == attempts[-1] + timedelta(seconds=1200)
    # A Test connection that works resets the backoff: the next cycle tries again.
    with store.begin() as session:
        set_account_status(session, alice.tenant_id, "123456789012", "ok")
    (account,) = alice.client.get("/api/accounts").json()
    assert account["next_attempt_at"] is None and account["failures"] == 0
