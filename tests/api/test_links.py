"""The pages behind e-mailed Stop / Not idle links: GET confirms, only a POST with CSRF acts;
replayed, expired, altered or other-organisation links fail with a clear page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from actions.links import LINK_ACTIONS, sign, signing_key
from spendsense.settings import Settings
from tests.api.conftest import (
    PASSWORD,
    anonymous_csrf,
    connect,
    new_client,
    restart,
    sign_up,
    state,
    stoppable_running,
)
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox
from tests.fixtures.served import LINK_KEY, served_api, served_nginx

pytestmark = pytest.mark.kafka
REGION = "us-east-1"


@pytest.fixture
def app(sandbox_app: FastAPI) -> FastAPI:
    return sandbox_app


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_email_stop_link_is_not_a_bearer_token(app: FastAPI, sandbox: Sandbox) -> None:
    """Issue 13, item 4: a Stop link acts only for a logged-in member of its organisation
    (once); "Not idle" from the same e-mail needs no session."""
    settings: Settings = app.state.spendsense.settings
    owner, stranger = sign_up(app), sign_up(app)
    account_id = sandbox.tenant_account_ids[1]
    ec2 = connect(owner, sandbox, account_id)
    iid = stoppable_running(ec2, settings.actions.protect_tag)
    key = signing_key(settings.actions, settings.var_dir)
    link = partial(
        sign, key, owner.tenant_id, iid, ttl_s=3600, account_id=account_id, region=REGION
    )
    token = link("stop")

    # the e-mail opened without a session: the page asks to log in and comes back here
    browser = new_client(app)
    page = browser.get(f"/links/{token}")
    assert page.status_code == 200 and f"Log in to stop {iid}" in page.text
    assert f'href="/login?next=/links/{token}"' in page.text and 'id="confirm"' not in page.text
    refused = browser.post(f"/links/{token}", data={"csrf_token": anonymous_csrf(browser)})
    assert refused.status_code == 401 and f"Log in to stop {iid}" in refused.text
    # another organisation's session: neither the page nor the action
    assert stranger.client.get(f"/links/{token}").status_code == 403
    other = stranger.client.post(f"/links/{token}", data={"csrf_token": stranger.csrf})
    assert other.status_code == 403 and "another organisation" in other.text
    assert state(ec2, iid) == "running"

    # a member of the link's organisation: a confirmation page, then the stop, once
    page = owner.client.get(f"/links/{token}")
    assert page.status_code == 200 and f"Stop instance {iid}?" in page.text
    assert state(ec2, iid) == "running"  # opening the link does nothing
    done = owner.client.post(f"/links/{token}", data={"csrf_token": form_token(page.text)})
    assert done.status_code == 200 and "stopped" in done.text
    assert state(ec2, iid) in {"stopping", "stopped"}
    audit = owner.client.get("/api/audit").json()["items"]
    assert [(a["action"], a["instance_id"], a["result"], a["actor"]) for a in audit][:1] == [
        ("stop", iid, "stopped", owner.email)
    ]
    replay = owner.client.post(f"/links/{token}", data={"csrf_token": form_token(page.text)})
    assert replay.status_code == 410 and "already used" in replay.text
    assert len(owner.client.get("/api/audit").json()["items"]) == len(audit)
    restart(ec2, iid)

    # "Not idle" stays one click for whoever reads the e-mail
    not_idle = link("not-idle")
    page = browser.get(f"/links/{not_idle}")
    assert page.status_code == 200 and f"Mark {iid} as not idle?" in page.text
    done = browser.post(f"/links/{not_idle}", data={"csrf_token": form_token(page.text)})
    assert done.status_code == 200 and "marked not idle" in done.text
    newest = owner.client.get("/api/audit").json()["items"][0]
    assert (newest["action"], newest["instance_id"], newest["result"]) == (
        "not-idle",
        iid,
        "recorded",
    )


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


def test_link_tokens_stay_out_of_the_access_logs(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """Issue 13, item 4: neither uvicorn's access log nor any log nginx writes shows a
    link's token: in the path, in the log-in page's ?next=, or in a Referer."""
    key = LINK_KEY.encode()
    incident = "i-0123456789abcdef0/cpu_percent/20261201T0000Z"
    tokens = [
        sign(
            key,
            "t-any",
            "i-0123456789abcdef0",
            a,
            ttl_s=3600,
            incident_id=incident if a == "anomaly-expected" else None,
            metric="cpu_percent" if a == "anomaly-expected" else None,
        )
        for a in LINK_ACTIONS
    ]
    stop = tokens[LINK_ACTIONS.index("stop")]
    nginx_dir = tmp_path / "nginx"
    with (
        served_api(tmp_path, postgres_server.create_database(), {}) as api,
        served_nginx(nginx_dir, api.url) as nginx,
        httpx.Client(base_url=nginx.url, verify=nginx.verify()) as browser,
    ):
        for token in tokens:
            assert browser.get(f"/links/{token}").status_code == 200
        assert browser.get(f"/login?next=/links/{stop}").status_code == 200
        browser.get("/static/app.css", headers={"Referer": f"{nginx.url}/links/{stop}"})
    logs = {path: path.read_text() for path in (api.log, *nginx_dir.glob("*.log"))}
    for path, text in logs.items():
        for token in tokens:
            # itsdangerous: [.]payload.timestamp.signature; no part of it may show
            for part in (p for p in token.split(".") if p):
                assert part not in text, (path, text[-2000:])
    # the requests are logged all the same, with the token masked
    assert 'GET /links/**** HTTP/1.1" 200' in logs[api.log]
    assert "GET /links/**** HTTP/1.1" in logs.get(nginx.log, "")
