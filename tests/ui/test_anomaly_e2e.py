"""End to end through the real broker: an egress surge injected into a sandbox instance's
metrics yields one anomaly event with a dollar rate, one digest section and one marked
chart; after a person follows its "Expected" link, the same surge again gives no event.

What runs for real: the sandbox AWS account (the instance, its CloudWatch history, SES),
the broker, the model service and the detector worker, the actions worker, the projector and
the API with its instance page in Chromium. The instance's last 8 days of CloudWatch points
are read through the tenant's role and put on ``metrics`` (as the collector would), with
the surge added to NetworkOut of a few periods at the live edge.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI

from devstack import stack
from devstack.launch import Child, launch
from spendsense.events import AnomalyRecord, InventoryRecord, MetricRecord, parse_event
from spendsense.ports import free_port
from spendsense.settings import KafkaSettings
from spendsense.topics import ANOMALIES, DETECTIONS, INVENTORY, METRICS
from tests.api.conftest import (
    User,
    live_api,
    running_projector,
    sandbox_app,
    sign_up,
)
from tests.fixtures.detector import StartWorker, consume, produce
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import logged_in_page

__all__ = ["sandbox_app"]  # the API suite's fixture

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.browser]

PERIOD = timedelta(minutes=5)
HISTORY = timedelta(days=8)  # past the model's week: incidents may open
SURGE_BYTES = 20e6 * 300  # 20 MB/s more out for a 5-minute period: $6.48/hour at $0.09/GB
LINK = re.compile(r"https?://\S+/links/[A-Za-z0-9_\-.]+")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MARKS = "id => Chart.getChart(id).data.datasets.filter(d => d.label === 'Anomalies').length"


@dataclass
class Watched:
    """The tenant, its connected sandbox account and the instance under test."""

    user: User
    account_id: str
    instance_id: str
    instance_type: str
    cloudwatch: Any


def watch_an_instance(app: FastAPI, sandbox: Sandbox) -> Watched:
    """Sign up, connect the first sandbox account, pick a running instance whose fleet trace
    has no labelled anomaly and is never idle."""
    user = sign_up(app)
    account_id = sandbox.tenant_account_ids[0]
    role = "SpendSense-e2e"
    account = user.post(
        "/api/accounts", json={"role_arn": f"arn:aws:iam::{account_id}:role/{role}"}
    ).json()  # type: ignore[attr-defined]
    sandbox.create_role(account_id, external_id=account["external_id"], role_name=role)
    session = sandbox.assume(account["role_arn"], account["external_id"])
    ec2 = sandbox.client("ec2", session=session)
    fleet = sandbox.fleet
    for reservation in ec2.describe_instances()["Reservations"]:
        for inst in reservation["Instances"]:
            iid = inst["InstanceId"]
            if (
                inst["State"]["Name"] == "running"
                and iid in fleet.instances
                and fleet.labels.get(iid) is None
                and iid not in fleet.anomalies
            ):
                return Watched(
                    user,
                    account_id,
                    iid,
                    inst["InstanceType"],
                    sandbox.client("cloudwatch", session=session),
                )
    raise AssertionError("the sandbox account has no running, never-idle instance")


def cloudwatch_history(
    w: Watched, tenant_id: str, start: datetime, end: datetime
) -> list[MetricRecord]:
    """The instance's 5-minute CloudWatch points in ``[start, end)`` as ``metrics`` records."""
    names = {
        "cpu": ("CPUUtilization", "Average"),
        "nin": ("NetworkIn", "Sum"),
        "nout": ("NetworkOut", "Sum"),
    }
    queries = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/EC2",
                    "MetricName": name,
                    "Dimensions": [{"Name": "InstanceId", "Value": w.instance_id}],
                },
                "Period": 300,
                "Stat": stat,
            },
        }
        for key, (name, stat) in names.items()
    ]
    values: dict[str, dict[datetime, float]] = {k: {} for k in names}
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"NextToken": token} if token else {}
        page = w.cloudwatch.get_metric_data(
            MetricDataQueries=queries,
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
            **kw,
        )
        for result in page["MetricDataResults"]:
            for at, value in zip(result["Timestamps"], result["Values"], strict=True):
                values[result["Id"]][at.astimezone(UTC)] = float(value)
        token = page.get("NextToken")
        if not token:
            break
    periods = sorted(set().union(*values.values()))
    return [
        MetricRecord(
            tenant_id=tenant_id,
            account_id=w.account_id,
            region="us-east-1",
            instance_id=w.instance_id,
            timestamp=at,
            cpu_percent=values["cpu"].get(at),
            network_in_bytes=values["nin"].get(at),
            network_out_bytes=values["nout"].get(at),
        )
        for at in periods
    ]


def surged(records: list[MetricRecord]) -> list[MetricRecord]:
    return [
        r.model_copy(update={"network_out_bytes": (r.network_out_bytes or 0.0) + SURGE_BYTES})
        for r in records
    ]


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not seen in {timeout_s:.0f}s"
        time.sleep(0.5)


@pytest.fixture
def actions_worker(
    sandbox_app: FastAPI, sandbox: Sandbox, kafka: KafkaSettings, tmp_path: Path
) -> Iterator[Child]:
    """``faust -A actions.app worker`` over the app's store, broker prefix and link key."""
    settings = sandbox_app.state.spendsense.settings
    aws = sandbox.aws_environment()
    env = {
        **aws,
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_STORE__URL": settings.store.url,
        "SPENDSENSE_AWS__MAX_ATTEMPTS": "2",
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": settings.actions.link_signing_key.get_secret_value(),
        "SPENDSENSE_ACTIONS__FLUSH_INTERVAL_S": "1",
        "SPENDSENSE_ACTIONS__METRICS_PORT": str(free_port()),
        "SPENDSENSE_ACTIONS__WEB_PORT": str(free_port()),
        "SPENDSENSE_VAR_DIR": str(tmp_path / "actions-var"),
    }
    child = launch(stack.spec("actions", env=env), tmp_path / "actions.log")
    yield child
    child.stop()


def test_an_egress_surge_alerts_once_and_after_expected_not_again(
    sandbox_app: FastAPI,
    sandbox: Sandbox,
    kafka: KafkaSettings,
    model_service_url: str,
    start_worker: StartWorker,
    actions_worker: Child,
    browser: Any,
    ui_assets: Path,
) -> None:
    services = sandbox_app.state.spendsense
    w = watch_an_instance(sandbox_app, sandbox)
    tenant_id = w.user.tenant_id
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    surge_at = now - timedelta(hours=5)  # inside the detector's live edge (7 hours)
    history = cloudwatch_history(
        w, tenant_id, surge_at - HISTORY, surge_at + timedelta(minutes=250)
    )
    before = [r for r in history if r.timestamp < surge_at]
    after = [r for r in history if r.timestamp >= surge_at]
    assert len(before) > 7 * 288 and len(after) >= 48, (len(before), len(after))
    first = surged(after[:4]) + after[4:10]  # 20 minutes of surge, then back to its pattern
    # the same level for 160 minutes, after "Expected": without it, new by its duration (longer
    # than 2.5 times the longest run seen plus an hour: tests/detector/test_incidents.py)
    again = surged(after[10:42]) + after[42:48]

    produce(
        kafka,
        INVENTORY,
        [
            (
                w.instance_id,
                InventoryRecord(
                    tenant_id=tenant_id,
                    account_id=w.account_id,
                    region="us-east-1",
                    instance_id=w.instance_id,
                    name="e2e-surge",
                    state="running",
                    instance_type=w.instance_type,
                    launch_time=surge_at - HISTORY - timedelta(days=1),
                    observed_at=datetime.now(UTC),
                ).to_bytes(),
            )
        ],
    )
    start_worker(model_service_url)
    with running_projector(services.settings, services.sessions):
        produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in (*before, *first)])

        # one incident: one "open" event (with its dollar rate) and its "closed" update
        def anomalies() -> list[AnomalyRecord]:
            return [parse_event(AnomalyRecord, v) for v in consume(kafka, ANOMALIES, 10, 3)]

        wait_until("the incident's open and closed records", lambda: len(anomalies()) >= 2, 300)
        events = anomalies()
        assert [e.status for e in events] == ["open", "closed"]
        opened = events[0]
        assert len({e.incident_id for e in events}) == 1
        assert (opened.metric, opened.direction) == ("network_out_bytes", "up")
        assert opened.since == surge_at
        assert opened.dollars_per_hour is not None and opened.dollars_per_hour > 1.0

        # one digest, one anomaly section, one "Expected" link
        recipient = w.user.email

        def digests() -> list[Any]:  # alert digests (not the sign-up's mail)
            return [m for m in sandbox.mail() if recipient in m.to and "/links/" in (m.text or "")]

        wait_until("the digest", lambda: len(digests()) == 1)
        (mail,) = digests()
        assert mail.subject.startswith("SpendSense: 1 usage anomaly, $")
        text = mail.text or ""
        assert text.count("usage anomal") == 1 and w.instance_id in text
        assert "idle EC2" not in text
        (expected_url,) = [u for u in LINK.findall(text) if "/links/" in u]

        # the instance page marks it on the network chart
        wait_until(
            "the projected incident",
            lambda: len(w.user.client.get(f"/api/instances/{w.instance_id}/anomalies").json()) == 1,
        )
        with logged_in_page(sandbox_app, browser, w.user) as (page, base):
            page.goto(f"{base}/instances/{w.instance_id}")
            page.wait_for_function("Chart.getChart('network-chart')")
            assert page.evaluate(MARKS, "network-chart") == 1
            assert page.evaluate(MARKS, "cpu-chart") == 0
            assert page.locator("#anomalies li.anomaly").count() == 1

        # "Expected", from the e-mail, by a logged-in member: the feedback goes to the detector
        with live_api(sandbox_app) as base:
            client = w.user.client
            path = urlparse(expected_url).path
            confirm = client.get(path)
            token = CSRF.search(confirm.text)
            assert confirm.status_code == 200 and token is not None
            done = client.post(path, data={"csrf_token": token.group(1)})
            assert done.status_code == 200, done.text
        time.sleep(3)  # every detector worker reads feedback in full, within a second

        produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in again])
        total = len(before) + len(first) + len(again)
        wait_until(
            "the detector's verdicts on the repeated surge",
            lambda: len(consume(kafka, DETECTIONS, total, 5)) >= total,
            300,
        )
        assert len(anomalies()) == 2  # no new event
        assert len(digests()) == 1
