"""Settings → Members in headless Chromium: an admin invites a viewer, the invite link is
opened from the sandbox SES's mail log, the viewer chooses a password and is in (without
the buttons a viewer cannot use), logs in again later, and an admin's changes reach them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.conftest import PASSWORD, mail_endpoint, mailed_link, sign_up
from tests.ui.conftest import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def test_invite_accept_and_log_in_as_the_new_member(
    sandbox_app: FastAPI, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    admin = sign_up(sandbox_app)
    email = f"v{uuid.uuid4().hex[:10]}@example.com"
    member = f"#members li[data-member='{email}']"
    with logged_in_page(sandbox_app, browser, admin) as (page, base):
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{base}/settings")
        page.wait_for_selector(f"#members li[data-member='{admin.email}']:has-text('(you)')")
        page.fill("#invite_email", email)
        page.select_option("#invite_role", "viewer")
        page.click("#invite-form button[type=submit]")
        page.wait_for_selector("#invite-ok:has-text('invite mailed')")
        assert email in page.inner_text("#invites")

        # the invitee, in a browser of their own: the link from the mail, a password, in
        invitee = browser.new_context()
        theirs = invitee.new_page()
        theirs.goto(base + mailed_link(mail_endpoint(sandbox_app), email, "/invite/"))
        assert "as viewer" in theirs.inner_text("#invite-offer")
        theirs.fill("#password", PASSWORD)
        theirs.click("#accept")
        theirs.wait_for_url(f"{base}/")
        theirs.wait_for_selector("body[data-role='viewer']")
        assert theirs.is_hidden("#bulk-bar")
        theirs.goto(f"{base}/settings")
        theirs.wait_for_selector("#members-role:has-text('You are a viewer')")
        assert theirs.is_hidden("#invite-form") and theirs.is_hidden("#account-form")
        assert theirs.is_hidden("#profile-form button[type=submit]")
        theirs.screenshot(path=str(artifacts / "ui-members-viewer.png"), full_page=True)
        invitee.close()

        # a fresh browser: they log in with the password they chose
        again = browser.new_context()
        login = again.new_page()
        login.goto(f"{base}/login")
        login.fill("#email", email)
        login.fill("#password", PASSWORD)
        login.click("button[type=submit]")
        login.wait_for_url(f"{base}/")
        login.wait_for_selector("body[data-role='viewer']")

        # the admin makes them an operator, then removes them: their session ends
        page.reload()
        page.select_option(f"{member} .member-role", "operator")
        page.wait_for_selector(f"{member} .member-message:has-text('now operator')")
        login.reload()
        login.wait_for_selector("body[data-role='operator']")
        page.screenshot(path=str(artifacts / "ui-members-admin.png"), full_page=True)
        page.click(f"{member} .member-remove")
        page.wait_for_selector(member, state="detached")
        login.goto(f"{base}/settings")
        login.wait_for_url(f"{base}/login")
        again.close()
