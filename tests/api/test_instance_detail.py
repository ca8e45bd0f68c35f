"""One instance's page data (``GET /api/instances/{id}/detail``) against the sandbox account:
14 days of CloudWatch read through the tenant's role, the rest level and quiet runs, the
alert emails and audit that name it; AWS errors as a message; other tenants' ids 404."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from api.services.metric_history import MetricHistory
from ingest.cloudwatch import metric_query
from ingest.metrics import AwsUsageMetrics
from spendsense.access import AccountRef, TenantSessions
from spendsense.aws import AwsFactory
from spendsense.metrics import CollectorRegistry
from spendsense.store import append_audit, get_aws_account
from spendsense.store.models import EmailOutbox
from spendsense.store.models.api import InstanceView
from tests.api.conftest import User, connect, random_instance_id, seed_instance, sign_up
from tests.fixtures.sandbox import Sandbox

REGION = "us-east-1"
POINTS_14_DAYS = 14 * 288


def fleet_instance(sandbox: Sandbox, account_id: str) -> str:
    """A fleet instance of the account in us-east-1, an idle one when there is one."""
    ids = sorted(sandbox.instances(account_id, REGION))
    labels = sandbox.labels()
    return next((i for i in ids if labels.get(i) is not None), ids[0])


def detail(user: User, instance_id: str) -> dict[str, Any]:
    resp = user.client.get(f"/api/instances/{instance_id}/detail")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def at(series: dict[str, Any], n: int) -> datetime:
    start = datetime.fromisoformat(series["start"])
    return start + timedelta(seconds=n * series["period_s"])


def cloudwatch_cpu(
    sandbox: Sandbox, account_id: str, instance_id: str, series: dict[str, Any]
) -> dict[datetime, float]:
    """What CloudWatch itself holds for the series' window (the tenant's own read)."""
    cw = sandbox.client("cloudwatch", session=sandbox.tenant_session(account_id, REGION))
    query = metric_query("cpu", instance_id, "CPUUtilization")
    out: dict[datetime, float] = {}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": [query],
        "StartTime": datetime.fromisoformat(series["start"]),
        "EndTime": datetime.fromisoformat(series["end"]),
    }
    while True:
        resp = cw.get_metric_data(**kwargs)
        for result in resp["MetricDataResults"]:
            for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                out[ts.astimezone(UTC)] = round(value, 3)
        if not resp.get("NextToken"):
            return out
        kwargs["NextToken"] = resp["NextToken"]


def aws_calls(app: FastAPI, tenant_id: str) -> tuple[float, float]:
    """GetMetricData calls and metrics requested, as the API's own metrics count them."""
    registry = app.state.spendsense.registry
    calls = registry.get_sample_value(
        "spendsense_aws_calls_total",
        {"tenant": tenant_id, "service": "cloudwatch", "operation": "GetMetricData"},
    )
    requested = registry.get_sample_value(
        "spendsense_aws_metrics_requested_total", {"tenant": tenant_id}
    )
    return calls or 0.0, requested or 0.0


def add_email(db: Session, tenant_id: str, instance_ids: list[str], subject: str) -> None:
    db.add(
        EmailOutbox(
            idempotency_key=uuid.uuid4().hex,
            tenant_id=tenant_id,
            recipient="ops@example.com",
            subject=subject,
            body_text="",
            body_html="",
            instance_ids=instance_ids,
            status="sent",
            sent_at=datetime.now(UTC),
        )
    )
    db.commit()


@pytest.mark.kafka  # sandbox_app: its own topics
def test_detail_has_14_days_from_cloudwatch_rest_limits_quiet_runs_alerts_and_audit(
    sandbox_app: FastAPI, sandbox: Sandbox
) -> None:
    services = sandbox_app.state.spendsense
    user, other = sign_up(sandbox_app), sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    connect(user, sandbox, account_id)
    iid = fleet_instance(sandbox, account_id)
    with services.sessions() as db:
        seed_instance(db, user.tenant_id, iid, account_id=account_id, idle=True, waste=61.32)
        add_email(db, user.tenant_id, [random_instance_id(), iid], "2 idle instances")
        add_email(db, user.tenant_id, [iid + "0"], "an id that only starts like it")
        add_email(db, other.tenant_id, [iid], "another tenant's email")
        for stopped, account in ((iid, account_id), (random_instance_id(), None)):
            append_audit(
                db,
                user.tenant_id,
                actor="alerts",
                action="stop",
                result="stopped",
                instance_id=stopped,
                account_id=account,
            )
        db.commit()
    gets_before = sandbox.call_count("monitoring", "GetMetricData", account_id)

    first = detail(user, iid)
    gets = sandbox.call_count("monitoring", "GetMetricData", account_id)
    assert gets == gets_before + 1  # one request: its three metrics fit one page
    series = first["series"]
    assert series["error"] is None and series["period_s"] == 300
    assert len(series["cpu_percent"]) == len(series["network_bps"]) == POINTS_14_DAYS
    # each point sits in its own period: the same values CloudWatch gives the tenant
    truth = cloudwatch_cpu(sandbox, account_id, iid, series)
    shown = {at(series, n): v for n, v in enumerate(series["cpu_percent"]) if v is not None}
    assert len(shown) > POINTS_14_DAYS // 2 and shown == truth
    assert sum(v is not None for v in series["network_bps"]) == len(shown)
    # the verdict, not the novelty score; no rest level learned yet: no quiet runs
    assert first["verdict"]["status"] == "idle" and first["verdict"]["confidence"] == 0.87
    assert first["verdict"]["reason"] == "CPU flat at 0.3% for 3 days"
    assert first["instance"]["monthly_waste_usd"] == 61.32
    assert first["quiet_runs"] == [] and first["verdict"]["rest_cpu_percent"] is None
    assert [m["subject"] for m in first["alerts"]] == ["2 idle instances"]
    assert [(a["action"], a["instance_id"]) for a in first["audit"]] == [("stop", iid)]
    assert aws_calls(sandbox_app, user.tenant_id) == (1.0, 3.0)

    # a rest level is learned: the quiet runs are the stretches under both of its limits
    cpu, net = series["cpu_percent"], series["network_bps"]
    rest_cpu = statistics.median(v for v in cpu if v is not None)
    rest_net = statistics.median(v for v in net if v is not None)
    with services.sessions() as db:
        view = db.get(InstanceView, (user.tenant_id, iid))
        assert view is not None
        view.rest_cpu_percent, view.rest_network_bps = rest_cpu, rest_net
        db.commit()
    second = detail(user, iid)
    assert second["series"] == series  # kept: CloudWatch was not asked again
    truth_reads = 1  # cloudwatch_cpu's own request above
    assert sandbox.call_count("monitoring", "GetMetricData", account_id) == gets + truth_reads
    assert aws_calls(sandbox_app, user.tenant_id) == (1.0, 3.0)
    verdict = second["verdict"]
    assert (verdict["rest_cpu_percent"], verdict["rest_network_bps"]) == (rest_cpu, rest_net)
    runs = second["quiet_runs"]
    quiet = [
        c is not None and n is not None and c <= rest_cpu and n <= rest_net
        for c, n in zip(cpu, net, strict=True)
    ]
    assert runs and sum(r["periods"] for r in runs) == sum(quiet)
    start = datetime.fromisoformat(series["start"])
    for run in runs:
        first_n = int((datetime.fromisoformat(run["start"]) - start) / timedelta(minutes=5))
        end_n = first_n + run["periods"]
        assert datetime.fromisoformat(run["end"]) == at(series, end_n)
        assert all(quiet[first_n:end_n])  # every point of a run is quiet ...
        assert first_n == 0 or not quiet[first_n - 1]  # ... and it is as long as it can be
        assert end_n == len(quiet) or not quiet[end_n]


@pytest.mark.kafka  # sandbox_app: its own topics
def test_the_series_is_the_same_across_pages(sandbox_app: FastAPI, sandbox: Sandbox) -> None:
    """GetMetricData's NextToken pages are followed: a small page size gives the same series."""
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    connect(user, sandbox, account_id)
    iid = fleet_instance(sandbox, account_id)
    with services.sessions() as db:
        stored = get_aws_account(db, user.tenant_id, account_id)
        assert stored is not None
        account = AccountRef.of(stored)
    now = datetime.now(UTC)
    usage = AwsUsageMetrics(CollectorRegistry())

    def reader(max_datapoints: int | None) -> MetricHistory:
        sessions = TenantSessions(AwsFactory(services.settings.aws))
        return MetricHistory(sessions, usage, clock=lambda: now, max_datapoints=max_datapoints)

    whole = reader(None).read(account, REGION, iid)
    paged = reader(1000).read(account, REGION, iid)
    assert whole.error is None and paged.error is None
    assert paged == whole and any(v is not None for v in whole.cpu_percent)
    pages = usage.requested.labels(tenant=user.tenant_id)._value.get() / 3
    assert pages > 10  # one whole page, then 12,096 points in pages of 1,000


@pytest.mark.kafka  # sandbox_app: its own topics
def test_access_denied_and_throttling_are_a_message_not_an_error(
    sandbox_app: FastAPI, sandbox_faults: Sandbox
) -> None:
    sandbox = sandbox_faults
    services = sandbox_app.state.spendsense
    account_id = sandbox.tenant_account_ids[0]
    iid = fleet_instance(sandbox, account_id)

    # the customer never created the role: AssumeRole is refused
    refused = sign_up(sandbox_app)
    role = f"arn:aws:iam::{account_id}:role/Missing-{uuid.uuid4().hex[:6]}"
    assert refused.post("/api/accounts", json={"role_arn": role}).status_code == 201
    with services.sessions() as db:
        seed_instance(db, refused.tenant_id, iid, account_id=account_id, idle=True)
    body = detail(refused, iid)
    assert body["series"]["cpu_percent"] == [] and body["quiet_runs"] == []
    assert "cannot assume role" in body["series"]["error"] and role in body["series"]["error"]
    assert body["verdict"]["status"] == "idle"  # the rest of the page still answers

    # CloudWatch throttles beyond botocore's retries
    user = sign_up(sandbox_app)
    connect(user, sandbox, account_id)
    with services.sessions() as db:
        seed_instance(db, user.tenant_id, iid, account_id=account_id)
    sandbox.set_faults(
        services=["monitoring"],
        operations=["GetMetricData"],
        accounts=[account_id],
        throttle_rate=1.0,
    )
    throttled = detail(user, iid)["series"]
    assert throttled["error"] == (
        f"AWS throttled the metrics request in {REGION} (Throttling): try again in a few minutes."
    )
    sandbox.clear_faults()  # an error is not kept: the next view reads CloudWatch again
    assert detail(user, iid)["series"]["error"] is None


@pytest.mark.parametrize("path", ["/api/instances/{}/detail", "/instances/{}"])
def test_another_tenants_instance_is_404_like_an_unknown_one(
    alice: User, bob: User, db: Session, path: str
) -> None:
    theirs, nowhere = random_instance_id(), random_instance_id()
    seed_instance(db, bob.tenant_id, theirs, idle=True, waste=50.0)
    guessed = alice.client.get(path.format(theirs))
    unknown = alice.client.get(path.format(nowhere))
    assert guessed.status_code == unknown.status_code == 404
    assert guessed.text.replace(theirs, "X") == unknown.text.replace(nowhere, "X")
    assert bob.client.get(path.format(theirs)).status_code == 200  # the owner's own id works
