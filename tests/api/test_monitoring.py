"""The monitoring page's pipeline health, read by the API from a real Prometheus (Debian's)
that scrapes the collector's, detector's and projector's own metric classes: each tenant
sees the last collection of its own accounts only and its own error counts; with
Prometheus gone the page says so in one line and its other figures still answer. And the
log-in check nginx asks before /grafana/ and /prometheus/ (deploy/nginx): operators only,
as those metrics name every tenant."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import start_http_server

from api.app import create_app
from detector.metrics import WorkerMetrics
from ingest.metrics import IngestMetrics
from projector.projection import ProjectorMetrics
from spendsense.metrics import CollectorRegistry
from spendsense.ports import free_port
from spendsense.settings import Settings
from spendsense.store import add_aws_account
from tests.api.conftest import User, new_client, sign_up
from tests.fixtures.prometheus import Prometheus

StartPrometheus = Callable[[Mapping[str, Sequence[str]]], Prometheus]


def _account() -> str:
    return str(uuid.uuid4().int)[:12]


@contextmanager
def app_reading(
    api_settings: Settings, prometheus_url: str, operators: Sequence[str] = ()
) -> Iterator[FastAPI]:
    """The API on the suite's store, querying the Prometheus at ``prometheus_url``, with
    these operators."""
    api = api_settings.api.model_copy(
        update={"prometheus_url": prometheus_url, "operator_emails": list(operators)}
    )
    app = create_app(api_settings.model_copy(update={"api": api}), registry=CollectorRegistry())
    with TestClient(app):
        yield app
    app.state.spendsense.engine.dispose()


def connect_accounts(app: FastAPI, user: User, *accounts: str) -> None:
    with app.state.spendsense.sessions.begin() as session:
        for account in accounts:
            add_aws_account(session, user.tenant_id, account, external_id=f"x-{account}")


@pytest.fixture
def pipeline_metrics() -> Iterator[tuple[str, IngestMetrics, WorkerMetrics, ProjectorMetrics]]:
    """The three processes' metric classes in one registry, served on a free port."""
    registry = CollectorRegistry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield (
        f"127.0.0.1:{port}",
        IngestMetrics(registry),
        WorkerMetrics(registry),
        ProjectorMetrics.create(registry),
    )
    server.shutdown()
    thread.join(5)


def test_each_tenant_sees_its_own_accounts_and_errors_from_prometheus(
    api_settings: Settings,
    prometheus_for: StartPrometheus,
    pipeline_metrics: tuple[str, IngestMetrics, WorkerMetrics, ProjectorMetrics],
) -> None:
    target, ingest, worker, projector = pipeline_metrics
    prometheus = prometheus_for({"collector": [target]})
    operator = f"ops{uuid.uuid4().hex[:8]}@example.com"
    with app_reading(api_settings, prometheus.url, [operator]) as app:
        alice, bob = sign_up(app, operator), sign_up(app)
        mine, also_mine, never_ok, bobs = _account(), _account(), _account(), _account()
        connect_accounts(app, alice, mine, also_mine, never_ok)
        connect_accounts(app, bob, bobs)
        before = datetime.now(UTC) - timedelta(seconds=1)
        for tenant, account in (
            (alice.tenant_id, mine),
            (alice.tenant_id, also_mine),
            (bob.tenant_id, bobs),
        ):
            ingest.set_status(tenant, account, "ok")
        ingest.set_status(alice.tenant_id, never_ok, "error")
        ingest.errors.labels(tenant=bob.tenant_id, kind="AccessDenied").inc(600)
        ingest.lag.labels(tenant=alice.tenant_id).set(420)
        ingest.lag.labels(tenant=bob.tenant_id).set(99_999)
        for partition, lag in (("0", 40), ("1", 2)):
            worker.lag.labels(partition=partition).set(lag)
        projector.lag_seconds.set(3)
        # the error counter rises between scrapes, so rate() over it is above zero
        prometheus.wait_until_scraped(["collector"])
        ingest.errors.labels(tenant=bob.tenant_id, kind="AccessDenied").inc(600)
        deadline = time.monotonic() + 30
        while not prometheus.query("spendsense_ingest_errors_total >= 1200"):
            assert time.monotonic() < deadline, "Prometheus did not scrape the new count"
            time.sleep(0.2)
        scraped = datetime.now(UTC)

        alices_page = alice.client.get("/api/monitoring").json()
        bobs_page = bob.client.get("/api/monitoring").json()
    alices, bobs_view = alices_page["pipeline"], bobs_page["pipeline"]
    # the links to Prometheus and Grafana: the operator's page only
    assert (alices_page["prometheus_link"], alices_page["grafana_link"]) == (
        "/prometheus/",
        "/grafana/",
    )
    assert bobs_page["prometheus_link"] is bobs_page["grafana_link"] is None

    assert alices["reachable"] and bobs_view["reachable"], (alices, bobs_view)
    seen = {c["account_id"]: c["at"] for c in alices["last_collection"]}
    assert set(seen) == {mine, also_mine, never_ok}  # not bob's account
    for account in (mine, also_mine):
        assert before <= datetime.fromisoformat(seen[account]) <= scraped
    assert seen[never_ok] is None
    assert [c["account_id"] for c in bobs_view["last_collection"]] == [bobs]

    lags = {lag["group"]: (lag["value"], lag["unit"]) for lag in alices["consumer_lag"]}
    assert lags == {
        "spendsense-detector": (42.0, "records"),
        "spendsense-projector": (3.0, "seconds"),
        "collector (your metrics)": (420.0, "seconds"),
    }
    assert (
        dict((lag["group"], lag["value"]) for lag in bobs_view["consumer_lag"])[
            "collector (your metrics)"
        ]
        == 99_999.0
    )

    def collection_errors(view: dict[str, Any]) -> float:
        rates = {r["label"]: r["per_minute"] for r in view["error_rates"]}
        return float(rates["Collection errors (your accounts)"])

    assert collection_errors(bobs_view) > 0
    assert collection_errors(alices) == 0.0


def test_prometheus_unreachable_is_one_line_and_the_rest_still_answers(
    api_settings: Settings,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with app_reading(api_settings, nowhere) as app:
        alice = sign_up(app)
        connect_accounts(app, alice, _account())
        response = alice.client.get("/api/monitoring")
    assert response.status_code == 200, response.text
    body = response.json()
    pipeline = body["pipeline"]
    assert pipeline["reachable"] is False
    assert pipeline["message"].startswith(f"Prometheus at {nowhere} does not answer")
    assert "\n" not in pipeline["message"]
    assert pipeline["last_collection"] == pipeline["error_rates"] == []
    figures = {f["label"]: f["value"] for f in body["figures"]}
    assert figures["AWS accounts"] == "1"


def test_the_login_check_passes_operators_only(api_settings: Settings) -> None:
    operator = f"Ops{uuid.uuid4().hex[:8]}@Example.com"
    with app_reading(api_settings, "http://127.0.0.1:9", [operator]) as app:
        ops, customer = sign_up(app, operator.lower()), sign_up(app)
        assert ops.client.get("/api/auth/check").status_code == 204
        refused = customer.client.get("/api/auth/check")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "not_an_operator", refused.json()
        anonymous = new_client(app)
        assert anonymous.get("/api/auth/check").status_code == 401
        anonymous.cookies.set(app.state.spendsense.settings.api.session_cookie, "forged")
        assert anonymous.get("/api/auth/check").status_code == 401
        ops.post("/api/auth/logout")
        assert ops.client.get("/api/auth/check").status_code == 401
