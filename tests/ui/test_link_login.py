"""An e-mailed Stop link opened without a session, in headless Chromium: it sends the
reader to log in and back to the link (security issue 13, item 4); the log-in page never
sends anyone to another site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from actions.links import sign, signing_key
from tests.api.conftest import PASSWORD, live_api, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def _log_in(page: Any, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_stop_link_sends_to_log_in_and_back(
    sandbox_app: FastAPI, browser: Any, ui_assets: Path
) -> None:
    owner = sign_up(sandbox_app)
    settings = sandbox_app.state.spendsense.settings
    key = signing_key(settings.actions, settings.var_dir)
    token = sign(key, owner.tenant_id, "i-0123456789abcdef0", "stop", ttl_s=3600)
    with live_api(sandbox_app) as base:
        page = browser.new_page()
        page.goto(f"{base}/links/{token}")
        assert page.query_selector("#confirm") is None  # no session: nothing to confirm
        page.click("#log-in")
        page.wait_for_url(f"{base}/login?next=/links/{token}")
        _log_in(page, owner.email)
        page.wait_for_url(f"{base}/links/{token}")
        assert page.inner_text("#confirm") == "Stop it"

        page.close()
        for elsewhere in ("//evil.example/x", "/%09/evil.example", "%2F%2Fevil.example"):
            page = browser.new_page()  # a context of its own: logged out
            page.goto(f"{base}/login?next={elsewhere}")
            _log_in(page, owner.email)
            page.wait_for_url(f"{base}/")
            page.close()
