"""The savings ledger in headless Chromium: a person stops an instance on the dashboard and
its "Saved this month" card moves (the stop now saves the instance's hourly price) without
a reload; the savings page lists the entry, with the CSV export beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.conftest import (
    connect,
    restart,
    running_projector,
    seed_instance,
    sign_up,
    stoppable_running,
)
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import accessibility_violations, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

PRICE = 0.5


def test_saved_this_month_moves_after_a_stop(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(user, sandbox, account_id)
    iid = stoppable_running(ec2, services.settings.actions.protect_tag)
    with services.sessions() as db:
        seed_instance(
            db, user.tenant_id, iid, account_id=account_id, idle=True, hourly_price_usd=PRICE
        )
    try:
        with (
            running_projector(services.settings, services.sessions),
            logged_in_page(sandbox_app, browser, user) as (page, base),
        ):
            page.goto(f"{base}/")
            page.wait_for_selector("#stat-saved-total:text-is('$0.00 in total')")
            assert page.inner_text("#stat-saved") == "$0.00"
            page.wait_for_selector("#feed-status:text-is('live')")

            page.click(f"tr[data-instance-id='{iid}'] button[data-action=stop]")
            # the stop reaches the ledger through the actions topic and the projector
            page.wait_for_selector(
                "#stat-saved-total:text-is('$0.00 in total · saving $0.50/h now')",
                timeout=30000,
            )
            page.screenshot(path=str(artifacts / "ui-saved-this-month.png"), full_page=True)

            page.click("a[href='/savings']:has-text('Saved this month')")
            row = page.wait_for_selector(f"#ledger-body tr:has-text('{iid}')")
            text = row.inner_text()
            assert user.email in text and "Stop" in text and "$0.50/h" in text
            assert "saving" in text
            assert page.get_attribute("a:has-text('Export CSV')", "href") == "/api/savings.csv"
            assert "saving $0.50/h now" in page.inner_text("#saved-rate")
            page.screenshot(path=str(artifacts / "ui-savings.png"), full_page=True)
            assert accessibility_violations(page) == []
    finally:
        restart(ec2, iid)  # the session's sandbox is shared
