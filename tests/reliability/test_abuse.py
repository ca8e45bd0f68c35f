"""Isolation and abuse beyond tests/api (which covers the route table, CSRF on every
state-changing route, session fixation, per-e-mail log-in limits and link replay):
another tenant's role with our ExternalId, forged link payloads, credential stuffing
from one client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous.url_safe import URLSafeTimedSerializer

from actions.links import sign
from api.app import create_app
from api.deps import CSRF_HEADER
from api.services.auth import CLIENT_LIMIT_FACTOR
from spendsense.metrics import CollectorRegistry
from spendsense.settings import KafkaSettings, Settings
from tests.fixtures.sandbox import Sandbox
from tests.reliability.api_app import Login, api_settings, sign_up
from tests.reliability.conftest import LINK_KEY

MAX_FAILURES = 2


@pytest.fixture(scope="module")
def abuse_settings(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox, kafka_broker: KafkaSettings
) -> Settings:
    return api_settings(
        tmp_path_factory.mktemp("abuse-api"), sandbox, kafka_broker, login_max_failures=MAX_FAILURES
    )


@pytest.fixture(scope="module")
def abuse_app(abuse_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(abuse_settings, registry=CollectorRegistry())
    with TestClient(app):
        yield app
    app.state.spendsense.engine.dispose()


def client_of(app: FastAPI, settings: Settings, login: Login) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.update(login.cookies(settings.api))
    client.headers[CSRF_HEADER] = login.csrf
    return client


def test_another_tenants_role_is_not_assumed_with_our_external_id(
    abuse_app: FastAPI, abuse_settings: Settings, sandbox: Sandbox
) -> None:
    account_id = sandbox.tenant_account_ids[0]
    alice, mallory = sign_up(abuse_app, abuse_settings.api), sign_up(abuse_app, abuse_settings.api)
    role = f"SpendSense-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:iam::{account_id}:role/{role}"
    as_alice = client_of(abuse_app, abuse_settings, alice)
    created = as_alice.post("/api/accounts", json={"role_arn": arn})
    assert created.status_code == 201, created.text
    alice_external_id = created.json()["external_id"]
    sandbox.create_role(account_id, external_id=alice_external_id, role_name=role)
    assert as_alice.post(f"/api/accounts/{account_id}/test").json()["ok"] is True

    # Mallory names Alice's role: SpendSense gives Mallory an ExternalId of her own ...
    as_mallory = client_of(abuse_app, abuse_settings, mallory)
    theirs = as_mallory.post("/api/accounts", json={"role_arn": arn})
    if theirs.status_code == 201:
        assert theirs.json()["external_id"] != alice_external_id
        # ... which Alice's role does not trust: the connection test says AccessDenied
        tested = as_mallory.post(f"/api/accounts/{account_id}/test").json()
        assert (tested["ok"], tested["code"]) == (False, "AccessDenied"), tested
        assert as_mallory.get(f"/api/accounts/{account_id}").json()["status"] == "error"
    else:  # or the account is refused outright, in the error shape
        assert theirs.status_code in {400, 409}, theirs.text
        assert set(theirs.json()) == {"error"}
    assert as_mallory.get("/api/instances").json()["items"] == []

    # and at STS itself: the role answers Alice's ExternalId only
    with pytest.raises(ClientError) as refused:
        sandbox.assume(arn, f"ss-{uuid.uuid4().hex}")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        sandbox.assume(arn, None)
    sandbox.assume(arn, alice_external_id)  # the control: the right one works


def _forge(token: str, **changes: object) -> str:
    """``token`` with its payload changed and its timestamp and signature kept."""
    payload, stamp, sig = token.rsplit(".", 2)
    unsigned = URLSafeTimedSerializer(b"unused")  # reads and writes payloads only
    claims = unsigned.load_payload(payload.encode())
    claims.update(changes)
    return f"{unsigned.dump_payload(claims).decode()}.{stamp}.{sig}"


def test_forged_link_payloads_and_foreign_keys_are_refused(
    abuse_app: FastAPI, abuse_settings: Settings
) -> None:
    owner = sign_up(abuse_app, abuse_settings.api)
    other = sign_up(abuse_app, abuse_settings.api)
    token = sign(LINK_KEY.encode(), owner.tenant_id, "i-0123456789abcdef0", "not-idle", ttl_s=3600)
    browser = TestClient(abuse_app, raise_server_exceptions=False)
    assert browser.get(f"/links/{token}").status_code == 200  # the genuine link opens
    forged = [
        _forge(token, i="i-0fedcba9876543210"),
        _forge(token, t=other.tenant_id),
        _forge(token, a="stop"),
        _forge(token, ttl=10**9),
        sign(b"x" * 40, owner.tenant_id, "i-0123456789abcdef0", "stop", ttl_s=3600),
    ]
    for link in forged:
        page = browser.get(f"/links/{link}")
        assert page.status_code == 400 and "altered" in page.text, (link, page.status_code)
        csrf = browser.get("/api/auth/csrf").json()["csrf_token"]
        done = browser.post(f"/links/{link}", data={"csrf_token": csrf})
        assert done.status_code == 400, done.text


def test_credential_stuffing_from_one_client_is_rate_limited(
    abuse_app: FastAPI, abuse_settings: Settings
) -> None:
    victim = sign_up(abuse_app, abuse_settings.api)
    attacker = TestClient(abuse_app, raise_server_exceptions=False)
    csrf = attacker.get("/api/auth/csrf").json()["csrf_token"]
    limit = MAX_FAILURES * CLIENT_LIMIT_FACTOR
    answers = []
    for n in range(limit + 2):
        # a different e-mail every time: the per-e-mail limit never trips, the client's does
        resp = attacker.post(
            "/api/auth/login",
            json={"email": f"guess{n}-{uuid.uuid4().hex[:6]}@example.com", "password": "123456"},
            headers={CSRF_HEADER: csrf},
        )
        answers.append(resp.status_code)
    assert answers[:limit] == [401] * limit, answers
    assert answers[limit:] == [429, 429], answers
    # the real password from the same client is refused too while the window lasts
    resp = attacker.post(
        "/api/auth/login",
        json={"email": victim.email, "password": "wrong-but-irrelevant"},
        headers={CSRF_HEADER: csrf},
    )
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) > 0
