"""The instance page in headless Chromium against the sandbox account.

The dashboard's list shows the verdict and its confidence (never the model's novelty
score) and links to the page; the page draws 14 days of CPU and network from CloudWatch as
two Chart.js charts with the learned rest level and the quiet runs, the verdict, the alert
emails and the audit, and its Not idle button acts through the API.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from spendsense.store import append_audit
from spendsense.store.models import EmailOutbox
from spendsense.store.models.api import InstanceView
from tests.api.conftest import (
    connect,
    random_instance_id,
    seed_instance,
    sign_up,
    stoppable_running,
)
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import accessibility_violations, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

# What a chart holds: each dataset's label, its points and the y of those that have one.
DATASETS = """id => Chart.getChart(id).data.datasets.map(d => ({
  label: d.label,
  points: d.data.length,
  ys: d.data.filter(p => p.y !== null).map(p => p.y),
}))"""


def percentile_90(values: list[float | None]) -> float:
    return statistics.quantiles([v for v in values if v is not None], n=10)[-1]


def test_list_shows_the_verdict_and_the_page_draws_both_charts_with_the_rest_level(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(user, sandbox, account_id)
    iid = stoppable_running(ec2, services.settings.actions.protect_tag)
    provisional = random_instance_id()
    with services.sessions() as db:
        seed_instance(
            db, user.tenant_id, iid, account_id=account_id, idle=True, waste=61.32, idle_score=0.97
        )
        seed_instance(
            db, user.tenant_id, provisional, provisional=True, confidence=0.4, idle_score=0.66
        )
    # a rest level under which most of its points fall: quiet runs to shade
    series = user.client.get(f"/api/instances/{iid}/detail").json()["series"]
    assert series["error"] is None
    rest_cpu = percentile_90(series["cpu_percent"])
    rest_net = percentile_90(series["network_bps"])
    with services.sessions() as db:
        row = db.get(InstanceView, (user.tenant_id, iid))
        assert row is not None
        row.rest_cpu_percent, row.rest_network_bps = rest_cpu, rest_net
        db.add(
            EmailOutbox(
                idempotency_key=uuid.uuid4().hex,
                tenant_id=user.tenant_id,
                recipient=user.email,
                subject="SpendSense: 1 idle EC2 instance, about $61/month",
                body_text="",
                body_html="",
                instance_ids=[iid],
                status="sent",
                sent_at=datetime.now(UTC),
            )
        )
        append_audit(
            db,
            user.tenant_id,
            actor="policy",
            action="stop",
            result="dry-run",
            dry_run=True,
            instance_id=iid,
            account_id=account_id,
        )
        db.commit()
    detail = user.client.get(f"/api/instances/{iid}/detail").json()
    assert detail["quiet_runs"]

    with logged_in_page(sandbox_app, browser, user) as (page, base):
        # the list: the verdict with its confidence, never the novelty score
        page.goto(f"{base}/")
        row = page.wait_for_selector(f"tr.idle[data-instance-id='{iid}']")
        assert row.query_selector(".verdict").inner_text() == "Idle · 87 %"
        other = page.wait_for_selector(f"tr[data-instance-id='{provisional}'] .verdict")
        assert other.inner_text() == "Provisional"
        shown = page.eval_on_selector_all(
            "#instances .verdict", "els => els.map(e => e.textContent)"
        )
        assert sorted(shown) == ["Idle · 87 %", "Provisional"]  # not 97 % nor 66 %
        page.screenshot(path=str(artifacts / "ui-verdicts.png"), full_page=True)

        # the row links to the instance page
        row.query_selector(f"a[href='/instances/{iid}']").click()
        page.wait_for_url(f"{base}/instances/{iid}")
        page.wait_for_function("Chart.getChart('cpu-chart') && Chart.getChart('network-chart')")
        cpu = page.evaluate(DATASETS, "cpu-chart")
        net = page.evaluate(DATASETS, "network-chart")
        assert [d["label"] for d in cpu] == ["CPU", "Rest level", "Quiet runs"]
        assert [d["label"] for d in net] == ["Network in + out", "Rest level", "Quiet runs"]
        series = detail["series"]
        for chart, values, rest in (
            (cpu, series["cpu_percent"], rest_cpu),
            (net, series["network_bps"], rest_net),
        ):
            metric, rest_line, quiet = chart
            assert metric["points"] == 14 * 288
            assert metric["ys"] == [v for v in values if v is not None]
            assert rest_line["ys"] == [rest, rest]  # a horizontal line across the 14 days
            assert quiet["points"] == 3 * len(detail["quiet_runs"])  # one block per run
        assert page.inner_text("#verdict-badge") == "Idle · 87 %"
        assert page.inner_text("#verdict-reason") == "CPU flat at 0.3% for 3 days"
        assert page.inner_text("#verdict-rest").startswith("CPU ≤")
        assert "about $61/month" in page.inner_text("#alerts")
        assert "dry-run" in page.inner_text("#instance-audit")
        assert page.is_hidden("#series-error")
        page.screenshot(path=str(artifacts / "ui-instance.png"), full_page=True)
        assert accessibility_violations(page) == []

        # Not idle through the API (CSRF header), then the page reads what changed
        assert page.query_selector("#instance-actions button[data-action=stop]") is not None
        page.click("#instance-actions button[data-action=not-idle]")
        page.wait_for_selector("#action-message:has-text('marked not idle')")
        page.wait_for_selector("#verdict-badge .verdict:text-is('Active')")
        page.wait_for_selector("#instance-audit li:has-text('not-idle')")
