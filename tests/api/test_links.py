"""The pages behind e-mailed Stop / Not idle links: GET confirms, only a POST with CSRF acts;
replayed, expired, altered or other-organisation links fail with a clear page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from actions.links import sign, signing_key
from spendsense.settings import Settings
from tests.api.conftest import (
    PASSWORD,
    connect,
    new_client,
    restart,
    sign_up,
    state,
    stoppable_running,
)
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.kafka
REGION = "us-east-1"


@pytest.fixture
def app(sandbox_app: FastAPI) -> FastAPI:
    return sandbox_app


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_stop_link_confirms_on_get_acts_once_on_post(app: FastAPI, sandbox: Sandbox) -> None:
    settings: Settings = app.state.spendsense.settings
    owner = sign_up(app)
    account_id = sandbox.tenant_account_ids[1]
    ec2 = connect(owner, sandbox, account_id)
    iid = stoppable_running(ec2, settings.actions.protect_tag)
    key = signing_key(settings.actions, settings.var_dir)
    token = sign(
        key, owner.tenant_id, iid, "stop", ttl_s=3600, account_id=account_id, region=REGION
    )

    # a person opening the e-mail, not logged in
    browser = new_client(app)
    page = browser.get(f"/links/{token}")
    assert page.status_code == 200 and f"Stop instance {iid}?" in page.text
    assert state(ec2, iid) == "running"  # opening the link does nothing
    assert browser.post(f"/links/{token}", data={}).status_code == 403  # no CSRF token: refused
    assert state(ec2, iid) == "running"

    done = browser.post(f"/links/{token}", data={"csrf_token": form_token(page.text)})
    assert done.status_code == 200 and "stopped" in done.text
    assert state(ec2, iid) in {"stopping", "stopped"}
    audit = owner.client.get("/api/audit").json()["items"]
    assert [(a["action"], a["instance_id"], a["result"]) for a in audit][:1] == [
        ("stop", iid, "stopped")
    ]

    replay = browser.post(f"/links/{token}", data={"csrf_token": form_token(page.text)})
    assert replay.status_code == 410 and "already used" in replay.text
    assert browser.get(f"/links/{token}").status_code == 410
    assert len(owner.client.get("/api/audit").json()["items"]) == len(audit)
    restart(ec2, iid)


def test_expired_altered_and_other_tenant_links_fail_clearly(app: FastAPI) -> None:
    settings: Settings = app.state.spendsense.settings
    key = signing_key(settings.actions, settings.var_dir)
    owner, other = sign_up(app), sign_up(app)
    iid = "i-0123456789abcdef0"
    old = sign(
        key, owner.tenant_id, iid, "stop", ttl_s=60, now=datetime.now(UTC) - timedelta(hours=1)
    )
    expired = new_client(app).get(f"/links/{old}")
    assert expired.status_code == 410 and "expired" in expired.text

    fresh = sign(key, owner.tenant_id, iid, "not-idle", ttl_s=3600)
    altered = new_client(app).get(f"/links/{fresh[:-3]}abc")
    assert altered.status_code == 400 and "altered" in altered.text

    # logged in as another organisation: neither the page nor the action
    assert other.client.get(f"/links/{fresh}").status_code == 403
    csrf = other.csrf
    refused = other.client.post(f"/links/{fresh}", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "another organisation" in refused.text
    # and the owner can still use it afterwards (nothing was consumed)
    assert owner.client.get(f"/links/{fresh}").status_code == 200


def test_login_page_sets_a_signed_csrf_cookie_that_login_accepts(app: FastAPI) -> None:
    user = sign_up(app)
    client = new_client(app)
    client.get("/login")
    token = client.cookies.get(settings_cookie(app))
    assert token and "." in token
    ok = client.post(
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert ok.status_code == 200
    # a cookie SpendSense did not sign is not accepted, even when the header matches it
    forged = new_client(app)
    forged.cookies.set(settings_cookie(app), "made-up.token")
    bad = forged.post(
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={
            "X-CSRF-Token": "made-up.token",
            "Cookie": f"{settings_cookie(app)}=made-up.token",
        },
    )
    assert bad.status_code == 403


def settings_cookie(app: FastAPI) -> str:
    return str(app.state.spendsense.settings.api.csrf_cookie)
