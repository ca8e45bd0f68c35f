"""The waste pages in headless Chromium against the sandbox account: the overview cards by
kind (on the dashboard and /waste), a kind's list with verdict, reason and actions, and an
Elastic IP's release that needs its typed confirmation before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.conftest import connect, seed_instance, sign_up
from tests.api.waste_seeds import seed_waste
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import accessibility_violations, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def test_overview_list_and_a_release_that_needs_the_typed_confirmation(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(user, sandbox, account_id)
    address = ec2.allocate_address(Domain="vpc")
    alloc, ip = address["AllocationId"], address["PublicIp"]
    with services.sessions() as db:
        seed_instance(
            db, user.tenant_id, "i-0aaaabbbbcccc0009", account_id=account_id, idle=True, waste=30.0
        )
        seed_waste(db, user.tenant_id, account_id, resource_id=alloc, details={"public_ip": ip})
        seed_waste(
            db,
            user.tenant_id,
            account_id,
            kind="ebs-volume",
            resource_id="vol-0ui1",
            monthly_price_usd=40.0,
            reason="unattached for 9 days",
        )

    with logged_in_page(sandbox_app, browser, user) as (page, base):
        page.goto(f"{base}/")
        page.wait_for_selector(
            "#waste-cards a[data-kind='ebs-volume'] .waste-usd:has-text('$40.00/mo')"
        )
        assert page.inner_text("#waste-cards a[data-kind='elastic-ip'] .waste-count") == "1"
        assert "Idle EC2 instances" in (page.text_content("#waste-cards") or "")

        page.goto(f"{base}/waste")
        page.wait_for_selector("#waste-sum:has-text('2 resources, $43.60/mo')")
        page.click("#waste-cards a[data-kind='elastic-ip']")
        page.wait_for_url(f"{base}/waste/elastic-ip")
        row = page.wait_for_selector(f"#waste-rows tr[data-id='{alloc}']")
        assert "Wasted" in row.inner_text() and "not associated" in row.inner_text()
        page.screenshot(path=str(artifacts / "waste-list.png"), full_page=True)
        assert accessibility_violations(page) == []

        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.click(f"#waste-rows tr[data-id='{alloc}'] button[data-action='release']")
        page.wait_for_selector("#waste-confirm[open]")
        go = page.locator("#waste-confirm-go")
        assert go.is_disabled()
        page.fill("#waste-confirm-input", "yes")
        assert go.is_disabled()  # anything but the id (or the IP) leaves it disabled
        page.click("#waste-confirm-cancel")
        assert posts == [] and ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]

        page.click(f"#waste-rows tr[data-id='{alloc}'] button[data-action='release']")
        page.fill("#waste-confirm-input", alloc)
        assert go.is_enabled()
        go.click()
        page.wait_for_selector("#waste-message:has-text('released')")
        assert len(posts) == 1 and posts[0].endswith(
            f"/api/waste/elastic-ip/{alloc}/actions/release"
        )
        assert ip not in {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}

        page.goto(f"{base}/waste/elastic-ip/{alloc}")
        page.wait_for_selector("#resource-audit:has-text('release: released')")
        assert "release:released" in page.inner_text("#resource-figures")
