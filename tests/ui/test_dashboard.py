"""The dashboard in headless Chromium against the real pieces.

A person signs up, connects the sandbox AWS account (creating the role with the
ExternalId SpendSense shows, as the CloudFormation template would), tests the
connection, sees the cost chart and the instances the collectors found, sees an idle
instance arrive live, presses Stop, and sees it stopping and the audit entry appear,
all in one page load. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.services.instances import not_stoppable_reason
from ingest.runner import CollectorService
from spendsense.events import DetectionRecord
from spendsense.metrics import CollectorRegistry
from spendsense.producer import make_producer
from spendsense.settings import ApiSettings, IngestSettings, KafkaSettings, Settings
from spendsense.store.models.api import InstanceView
from spendsense.topics import DETECTIONS, topic_name
from tests.api.conftest import live_api, restart, running_projector, sandbox_settings
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import browser_sign_up

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

REGION = "us-east-1"


# The elements that reach past a 390-pixel screen, for the phone-width assertions' message.
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .map((e) => [Math.round(e.getBoundingClientRect().right), `${e.tagName}#${e.id}.${e.className}`])
  .filter(([right]) => right > 391).slice(0, 10)"""


@pytest.fixture
def settings(
    sandbox: Sandbox, kafka: KafkaSettings, postgres_server: PostgresServer, tmp_path: Path
) -> Settings:
    return sandbox_settings(
        sandbox,
        kafka,
        postgres_server,
        tmp_path,
        api=ApiSettings(
            session_secret=SecretStr("b" * 48), vendor_account_id=sandbox.vendor_account_id
        ),
        ingest=IngestSettings(backfill_days=1, regions=[REGION], metrics_port=0),
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings, registry=CollectorRegistry())
    yield app
    app.state.spendsense.engine.dispose()


def wait_for(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def collect_once(settings: Settings, sessions: sessionmaker[Session], sandbox: Sandbox) -> None:
    """One collector cycle (inventory and Cost Explorer), as ``spendsense collect`` runs it."""
    producer = make_producer(settings.kafka, client_id="ui-test-collector")
    try:
        service = CollectorService(
            settings,
            sessions,
            producer,
            CollectorRegistry(),
            clock=lambda: datetime.fromtimestamp(sandbox.now(), UTC),
            collectors=["inventory", "cost-explorer"],
        )
        results = service.run_cycle()
        assert [r.status for r in results] == ["ok"], [r.line() for r in results]
    finally:
        producer.close(timeout=10)


ROW_IDS = "rows => rows.map(r => r.dataset.instanceId)"

EBS_ONLY_FAMILIES = {"t3", "m5", "c5", "r5"}
"""Families without instance-store volumes (the stop rails refuse those: they would lose data)."""


def publish_idle(settings: Settings, row: InstanceView, when: datetime) -> None:
    """The detector's verdict that ``row``'s instance is idle."""
    record = DetectionRecord(
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        region=row.region,
        instance_id=row.instance_id,
        timestamp=when,
        score=0.97,
        idle=True,
        idle_since=when,
        confidence=0.9,
        reason="CPU at its noise floor (0.3%) and no network for 3 days",
        monthly_waste_usd=61.32,
        instance_type=row.instance_type,
    )
    producer = make_producer(settings.kafka, client_id="ui-test-detector")
    try:
        producer.send(
            topic_name(settings.kafka, DETECTIONS),
            key=row.instance_id.encode(),
            value=record.to_bytes(),
        ).get(timeout=10)
    finally:
        producer.close(timeout=10)


def test_sign_up_connect_see_costs_and_instances_stop_an_idle_one(
    app: FastAPI,
    settings: Settings,
    sandbox: Sandbox,
    browser: Any,
    ui_assets: Path,
    artifacts: Path,
) -> None:
    sessions = app.state.spendsense.sessions
    account_id = sandbox.tenant_account_ids[0]
    role_name = f"SpendSense-{uuid.uuid4().hex[:6]}"
    email = f"ui-{uuid.uuid4().hex[:8]}@example.com"
    with live_api(app) as base, running_projector(settings, sessions):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # sign up
        browser_sign_up(page, base, sandbox.endpoint_url, email, "Acme UI")

        # connect the sandbox account: SpendSense shows the ExternalId and the templates
        page.goto(f"{base}/settings")
        page.fill("#role_arn", "not an arn")
        page.click("#account-form button[type=submit]")
        page.wait_for_selector("#account-error:has-text('must be an IAM role ARN')")
        page.fill("#role_arn", f"arn:aws:iam::{account_id}:role/{role_name}")
        page.fill("#regions", REGION)
        page.click("#account-form button[type=submit]")
        card = page.wait_for_selector(f".account[data-account-id='{account_id}']")
        external_id = card.query_selector(".account-external-id").inner_text().strip()
        assert len(external_id) >= 32
        assert "stacks/quickcreate" in card.query_selector(".console-link").get_attribute("href")
        # before the role exists, Test connection reports AWS's refusal
        card.query_selector(".test-connection").click()
        page.wait_for_selector(".test-result.text-rose-700")
        assert "cannot assume role" in card.query_selector(".test-result").inner_text()
        # the customer creates the role (what the CloudFormation template does), then tests again
        sandbox.create_role(account_id, external_id=external_id, role_name=role_name)
        card.query_selector(".test-connection").click()
        page.wait_for_selector(".test-result:has-text('the connection works')")
        page.screenshot(path=str(artifacts / "ui-settings.png"), full_page=True)

        # the collectors run; the projector fills the instances table
        collect_once(settings, sessions, sandbox)
        with sessions() as db:
            rows = wait_for(
                lambda: (
                    db.scalars(
                        select(InstanceView).where(InstanceView.account_id == account_id)
                    ).all()
                    or db.expire_all()
                ),
                what="projected inventory",
            )
            protect = settings.actions.protect_tag
            target = next(
                r
                for r in rows
                if r.state == "running"
                and not_stoppable_reason(r, protect) is None
                and r.instance_type.split(".")[0] in EBS_ONLY_FAMILIES
            )

        # the dashboard: cost chart, stat cards, instances
        page.goto(f"{base}/")
        page.evaluate("window.__loadedOnce = true")
        page.wait_for_selector(f"tr[data-instance-id='{target.instance_id}']")
        page.wait_for_selector("#feed-status:text-is('live')")
        assert page.evaluate("Chart.getChart('cost-chart').data.datasets[0].data.length") == 7
        assert page.inner_text("#stat-mtd").startswith("$")
        assert page.evaluate("Chart.getChart('cost-chart').data.datasets[0].data.some(v => v > 0)")

        # the detector says one running instance is idle: it appears live, standing out, in
        # the row where it was (nothing moves under the cursor; a notice offers the new order)
        order = page.eval_on_selector_all("#instances tbody tr", ROW_IDS)
        publish_idle(settings, target, datetime.fromtimestamp(sandbox.now(), UTC))
        row = page.wait_for_selector(
            f"tr.idle[data-instance-id='{target.instance_id}']", timeout=20000
        )
        assert page.eval_on_selector_all("#instances tbody tr", ROW_IDS) == order
        page.wait_for_selector("#order-notice:has-text('1 change')")
        assert "$61.32" in row.inner_text()
        # the verdict's confidence (0.9), not the model's novelty score (0.97)
        assert row.query_selector(".verdict").inner_text() == "Idle · 90 %"
        page.wait_for_selector("#stat-idle:text-is('1')")
        link = f"a[href='/instances/{target.instance_id}']"
        page.wait_for_selector(f"#feed li:has-text('detection'):has-text('Idle · 90 %') {link}")
        page.screenshot(path=str(artifacts / "ui-dashboard.png"), full_page=True)

        # Stop: the row shows stopping and the audit entry appears, without a reload
        page.click(f"tr[data-instance-id='{target.instance_id}'] button[data-action=stop]")
        page.wait_for_selector(
            f"tr[data-instance-id='{target.instance_id}'] .state:text-is('stopping')"
        )
        page.wait_for_selector(f"#audit li:has-text('{target.instance_id}'):has-text('stopped')")
        assert page.evaluate("window.__loadedOnce") is True  # same page, never reloaded
        page.screenshot(path=str(artifacts / "ui-stopped.png"), full_page=True)
        ec2 = sandbox.client(
            "ec2",
            session=sandbox.assume(f"arn:aws:iam::{account_id}:role/{role_name}", external_id),
        )
        state = ec2.describe_instances(InstanceIds=[target.instance_id])["Reservations"][0][
            "Instances"
        ][0]
        assert state["State"]["Name"] in {"stopping", "stopped"}
        restart(ec2, target.instance_id)  # the session's sandbox is shared

        # phone width: the same page fits
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{base}/")
        phone.wait_for_selector(f"tr[data-instance-id='{target.instance_id}']")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, phone.evaluate(
            WIDER_THAN_THE_SCREEN
        )
        # a large organisation's figures fit too (six-figure spend, the bench's tenant)
        phone.evaluate(
            "for (const id of ['stat-mtd', 'stat-7d', 'stat-waste'])"
            " document.getElementById(id).textContent = '$172,893.60'"
        )
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, phone.evaluate(
            WIDER_THAN_THE_SCREEN
        )
        phone.screenshot(path=str(artifacts / "ui-phone.png"), full_page=True)
        assert errors == []
