"""Usage anomalies on the instance page in headless Chromium: each incident shaded on the
chart of its metric from its start to its end, with its expected range and dollar rate in
text beside it; and the Settings page's choice of which anomalies alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from projector.projection import apply_anomaly
from spendsense.events import AnomalyRecord
from spendsense.store.models import AnomalyView
from tests.api.conftest import (
    RUNAWAY_CPU,
    User,
    anomaly_record,
    connect,
    seed_instance,
    sign_up,
    stoppable_running,
)
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import accessibility_violations, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

# Each dataset of a chart: its label and the x of its points (null y: a break).
MARKS = """id => Chart.getChart(id).data.datasets.map(d => ({
  label: d.label, xs: d.data.map(p => p.x), ys: d.data.map(p => p.y),
}))"""


def project(app: FastAPI, *records: AnomalyRecord) -> None:
    with app.state.spendsense.sessions() as db:
        for rec in records:
            row = AnomalyView(tenant_id=rec.tenant_id, incident_id=rec.incident_id)
            db.add(row)
            apply_anomaly(row, rec)
        db.commit()


def epoch_ms(at: datetime) -> float:
    return at.timestamp() * 1000


def test_the_chart_marks_each_anomaly_with_its_range_and_rate(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    iid = stoppable_running(
        connect(user, sandbox, account_id), services.settings.actions.protect_tag
    )
    with services.sessions() as db:
        seed_instance(db, user.tenant_id, iid, account_id=account_id)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    surge = anomaly_record(
        user.tenant_id,
        iid,
        now - timedelta(days=2),
        status="closed",
        ended_at=now - timedelta(days=1),
        account_id=account_id,
    )
    runaway = anomaly_record(
        user.tenant_id,
        iid,
        now - timedelta(hours=3),
        **RUNAWAY_CPU,
        account_id=account_id,
    )
    project(sandbox_app, surge, runaway)

    with logged_in_page(sandbox_app, browser, user) as (page, base):
        page.goto(f"{base}/instances/{iid}")
        page.wait_for_function("Chart.getChart('cpu-chart') && Chart.getChart('network-chart')")
        net = {d["label"]: d for d in page.evaluate(MARKS, "network-chart")}
        cpu = {d["label"]: d for d in page.evaluate(MARKS, "cpu-chart")}
        assert list(net) == ["Network in + out", "Quiet runs", "Anomalies"]
        # the surge: shaded from its start to its end; the runaway CPU: to the chart's end
        assert net["Anomalies"]["xs"] == [
            epoch_ms(surge.since),
            epoch_ms(now - timedelta(days=1)),
            epoch_ms(now - timedelta(days=1)),
        ]
        assert net["Anomalies"]["ys"] == [1, 1, None]
        series_end = cpu["CPU"]["xs"][-1]
        start, end, _ = cpu["Anomalies"]["xs"]
        assert start == epoch_ms(runaway.since) and end >= series_end

        items = page.locator("#anomalies li.anomaly")
        assert items.count() == 2
        cpu_item, net_item = items.nth(0).inner_text(), items.nth(1).inner_text()
        assert "CPU up" in cpu_item and "now" in cpu_item
        assert "observed 97.0 %, expected 1.0 % to 12.0 %" in cpu_item
        assert "no direct cost" in cpu_item and "a possible compromise" in cpu_item
        assert "Network out up" in net_item
        assert "observed 8.3 MB/s, expected 333 B/s to 17 KB/s" in net_item
        assert "$2.70/hour while it lasted (24.0 hours: about $64.80 in all)" in net_item
        assert "data transfer out at $0.09/GB" in net_item
        page.screenshot(path=str(artifacts / "ui-anomalies.png"), full_page=True)
        assert accessibility_violations(page) == []


def test_settings_page_saves_which_anomalies_alert(
    sandbox_app: FastAPI, browser: Any, ui_assets: Path
) -> None:
    user: User = sign_up(sandbox_app)
    with logged_in_page(sandbox_app, browser, user) as (page, base):
        page.goto(f"{base}/settings")
        page.wait_for_selector("#anomaly-alerts-month:has-text('about $0.00 a month')")
        assert page.input_value("#anomaly_alerts_mode") == "priced"
        page.fill("#anomaly_alerts_min", "0.5")
        assert page.inner_text("#anomaly-alerts-month") == "about $365.00 a month (730 hours)"
        page.click("#anomaly-alerts-form button[type=submit]")
        page.wait_for_selector("#anomaly-alerts-ok:has-text('Saved')")
    saved = user.client.get("/api/settings/anomaly-alerts").json()
    assert saved == {"mode": "priced", "min_usd_per_hour": 0.5}
