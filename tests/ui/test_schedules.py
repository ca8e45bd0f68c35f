"""Off-hours schedules on the dashboard in headless Chromium: an admin creates a schedule
(a bad time zone is refused with what to fix), puts an instance on it and sees its next
action, with the note that a manual start in an off period is respected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from tests.api.conftest import api_app, api_settings, db, random_instance_id, seed_instance, sign_up
from tests.ui.conftest import logged_in_page

__all__ = ["api_app", "api_settings", "db"]  # the API suite's fixtures
pytestmark = [pytest.mark.browser]


def test_create_a_schedule_and_put_an_instance_on_it(
    api_app: FastAPI, db: Session, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    admin = sign_up(api_app)
    instance_id = random_instance_id()
    seed_instance(db, admin.tenant_id, instance_id)
    with logged_in_page(api_app, browser, admin) as (page, base):
        page.goto(f"{base}/")
        section = page.locator("#schedules-section")
        section.get_by_text("No schedules yet.").wait_for()
        assert "manual start in an off period is respected until the next period begins" in (
            section.inner_text()
        )
        page.fill("#schedule_name", "office-hours")
        page.fill("#schedule_zone", "Europe/Atlantis")
        page.click("#schedule-form button[type=submit]")
        page.wait_for_selector("#schedule-error:has-text('not an IANA time zone')")

        page.fill("#schedule_zone", "Europe/Berlin")
        page.uncheck("input[name=schedule_day][value=fri]")
        page.click("#schedule-form button[type=submit]")
        page.wait_for_selector("#schedule-ok:has-text('schedule office-hours created')")
        item = page.locator("#schedules li[data-schedule='office-hours']")
        assert "mon, tue, wed, thu 08:00\u201319:00 (Europe/Berlin)" in item.inner_text()

        page.fill("#assign_instance", instance_id)
        page.select_option("#assign_schedule", "office-hours")
        page.click("#assign-form button[type=submit]")
        page.wait_for_selector(f"#assign-ok:has-text('{instance_id} now follows office-hours')")
        row = page.locator(f"#scheduled tr[data-instance='{instance_id}']")
        next_action = row.locator(".next-action").inner_text()
        assert next_action.startswith(("Start at", "Stop at")), next_action
        assert "chosen here" in row.inner_text()
        assert "1 instance" in item.inner_text()
        section.screenshot(path=str(artifacts / "ui-schedules.png"))
