"""The monitoring page and the demo's mail view in headless Chromium."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from spendsense.settings import get_settings
from tests.api.conftest import live_api
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import browser_sign_up

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def test_monitoring_and_mail_pages(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    email = f"m{uuid.uuid4().hex[:8]}@example.com"
    with live_api(sandbox_app) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        browser_sign_up(page, base, sandbox.endpoint_url, email)

        page.goto(f"{base}/monitoring")
        page.wait_for_selector("#figures .card:has-text('Instances tracked')")
        # Prometheus and Grafana are for operators (tests/ui/test_through_nginx.py)
        assert page.is_hidden("#prometheus-link") and page.is_hidden("#grafana-link")
        page.screenshot(path=str(artifacts / "ui-monitoring.png"), full_page=True)

        sandbox.client("ses").send_email(
            Source=get_settings().sandbox.sender,
            Destination={"ToAddresses": [email]},
            Message={
                "Subject": {"Data": "SpendSense: 1 idle instance"},
                "Body": {"Html": {"Data": "<h1>i-0abc is idle</h1>"}, "Text": {"Data": "idle"}},
            },
        )
        page.goto(f"{base}/mail")
        page.wait_for_selector("#mail-list li:has-text('SpendSense: 1 idle instance')")
        body = page.frame_locator("#mail-body").locator("h1")
        assert body.inner_text() == "i-0abc is idle"
        page.screenshot(path=str(artifacts / "ui-mail.png"), full_page=True)
