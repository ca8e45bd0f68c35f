"""``/api/channels``: admins add, change, test and remove channels; URLs masked, https
enforced, failures shown; one organisation never sees another's channels."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from ipaddress import ip_address

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from actions.channels import addresses
from actions.channels.dispatch import ChannelDispatcher
from actions.channels.webhook import verify
from api.app import create_app
from api.security import hash_password
from spendsense.events import ActionRecord, Event
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ActionsSettings, ChannelsSettings, Settings
from spendsense.store import create_user
from tests.api.conftest import PASSWORD, User, anonymous_csrf, new_client, sign_up
from tests.fixtures.receiver import Receiver

LOCAL = ChannelsSettings(allow_hosts=["127.0.0.1"], max_attempts=1)


class ListSink:
    def __init__(self) -> None:
        self.sent: list[Event] = []

    def send(self, topic: str, record: Event) -> None:
        self.sent.append(record)


@pytest.fixture(scope="module")
def app(api_settings: Settings) -> Iterator[FastAPI]:
    """The API allowing plain http to this machine (the local receiver)."""
    settings = api_settings.model_copy(update={"channels": LOCAL})
    application = create_app(settings, registry=CollectorRegistry())
    with TestClient(application):
        yield application
    application.state.spendsense.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def admin(app: FastAPI) -> User:
    return sign_up(app)


def add(user: User, receiver: Receiver, kind: str = "webhook", **kw: object) -> dict[str, object]:
    body = {"kind": kind, "name": f"ops {kind}", "url": receiver.url(f"/{kind}"), **kw}
    made = user.client.post("/api/channels", json=body, headers={"X-CSRF-Token": user.csrf})
    assert made.status_code == 201, made.text
    result: dict[str, object] = made.json()
    return result


def test_a_webhook_channel_is_added_masked_and_its_secret_shown_once(
    admin: User, receiver: Receiver
) -> None:
    made = add(admin, receiver, subscriptions=["actions", "failures"])
    secret = made["signing_secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    assert made["url_masked"] == "http://127.0.0.1/…hook"
    (listed,) = admin.client.get("/api/channels").json()
    assert "signing_secret" not in listed and receiver.url("/webhook") not in str(listed)
    assert listed["subscriptions"] == ["actions", "failures"] and listed["signed"]

    tested = admin.post(f"/api/channels/{made['id']}/test")
    assert tested.json() == {"ok": True, "status_code": 200, "error": None}  # type: ignore[attr-defined]
    (got,) = receiver.got("/webhook")
    assert got.json()["topic"] == "test"
    assert verify(
        secret,
        got.body,
        got.headers["X-SpendSense-Timestamp"],
        got.headers["X-SpendSense-Signature"],
    )


def test_urls_must_be_https_except_the_allowed_hosts(admin: User) -> None:
    for url in ("http://example.com/hook", "ftp://example.com/x", "not a url at all"):
        refused = admin.post("/api/channels", json={"kind": "slack", "name": "x", "url": url})
        assert refused.status_code == 422, url  # type: ignore[attr-defined]
        assert "https://" in refused.json()["error"]["message"]  # type: ignore[attr-defined]
    fine = admin.post(
        "/api/channels",
        json={"kind": "slack", "name": "x", "url": "https://hooks.slack.com/services/T/B/abcd1234"},
    )
    assert fine.status_code == 201  # type: ignore[attr-defined]
    assert fine.json()["signing_secret"] is None  # type: ignore[attr-defined]


def test_loopback_private_and_metadata_urls_are_refused_when_saved(
    admin: User, receiver: Receiver
) -> None:
    for url in (
        "https://127.0.0.2/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.5]/hook",
        "https://0.0.0.0/hook",
    ):
        refused = admin.post("/api/channels", json={"kind": "webhook", "name": "x", "url": url})
        assert refused.status_code == 422, url  # type: ignore[attr-defined]
        message = refused.json()["error"]["message"]  # type: ignore[attr-defined]
        assert message.startswith("the channel URL resolves to a"), message
        assert message.endswith(": use a public endpoint") and "\n" not in message
    made = add(admin, receiver)  # the receiver's host is in channels.allow_hosts
    changed = admin.client.put(
        f"/api/channels/{made['id']}",
        json={"url": "https://169.254.169.254/latest/meta-data/"},
        headers={"X-CSRF-Token": admin.csrf},
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["message"] == (
        "the channel URL resolves to a link-local address (169.254.169.254): use a public endpoint"
    )


def test_a_host_resolving_inward_after_it_was_saved_is_refused_by_the_test(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(addresses, "resolve", lambda host, port: [ip_address("93.184.216.34")])
    made = admin.post(
        "/api/channels",
        json={"kind": "webhook", "name": "x", "url": "https://hooks.example.test/hook"},
    ).json()  # type: ignore[attr-defined]
    monkeypatch.setattr(addresses, "resolve", lambda host, port: [ip_address("10.0.0.5")])
    tested = admin.post(f"/api/channels/{made['id']}/test").json()  # type: ignore[attr-defined]
    refusal = "the channel URL resolves to a private address (10.0.0.5): use a public endpoint"
    assert tested == {"ok": False, "status_code": None, "error": refusal}
    (listed,) = [c for c in admin.client.get("/api/channels").json() if c["id"] == made["id"]]
    assert listed["last_error"] == f"test: {refusal}"


def test_change_test_failure_and_remove(admin: User, receiver: Receiver) -> None:
    made = add(admin, receiver, kind="slack")
    url = f"/api/channels/{made['id']}"
    changed = admin.client.put(
        url,
        json={"name": "renamed", "subscriptions": ["failures"], "enabled": False},
        headers={"X-CSRF-Token": admin.csrf},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "renamed" and not changed.json()["enabled"]
    receiver.script("/slack", (404, {}))
    tested = admin.post(f"{url}/test").json()  # type: ignore[attr-defined]
    assert tested == {"ok": False, "status_code": 404, "error": "HTTP 404: Not Found"}
    (listed,) = [c for c in admin.client.get("/api/channels").json() if c["id"] == made["id"]]
    assert listed["last_error"] == "test: HTTP 404: Not Found"  # never the receiver's body
    assert admin.client.delete(url, headers={"X-CSRF-Token": admin.csrf}).status_code == 200
    assert admin.client.get(url).status_code in {404, 405}
    assert all(c["id"] != made["id"] for c in admin.client.get("/api/channels").json())


def test_a_dead_delivery_shows_on_the_settings_api(
    app: FastAPI, admin: User, receiver: Receiver
) -> None:
    made = add(admin, receiver, kind="teams", subscriptions=["actions"])
    receiver.script("/teams", (500, {}))
    dispatcher = ChannelDispatcher(
        LOCAL, ActionsSettings(), app.state.spendsense.sessions, ListSink()
    )
    record = ActionRecord(
        tenant_id=admin.tenant_id,
        instance_id="i-0aa11bb22cc33dd44",
        action="stop",
        actor=admin.email,
        result="stopped",
        at=datetime.now(UTC),
    )
    try:
        assert dispatcher.action(record) == ["dead"]  # one attempt allowed: the last
    finally:
        dispatcher.close()
    (listed,) = [c for c in admin.client.get("/api/channels").json() if c["id"] == made["id"]]
    assert listed["last_error"] == "HTTP 500: Internal Server Error"
    (failure,) = listed["failures"]
    assert failure["status"] == "dead" and failure["topic"] == "actions"
    assert failure["attempts"] == 1 and failure["error"] == "HTTP 500: Internal Server Error"


def test_organisations_never_see_or_touch_each_others_channels(
    app: FastAPI, admin: User, receiver: Receiver
) -> None:
    made = add(admin, receiver)
    other = sign_up(app)
    assert other.client.get("/api/channels").json() == []
    url = f"/api/channels/{made['id']}"
    headers = {"X-CSRF-Token": other.csrf}
    assert other.client.put(url, json={"name": "mine"}, headers=headers).status_code == 404
    assert other.post(f"{url}/test").status_code == 404  # type: ignore[attr-defined]
    assert other.client.delete(url, headers=headers).status_code == 404
    assert receiver.got("/webhook") == []
    assert len(admin.client.get("/api/channels").json()) == 1


def test_channels_are_for_admins(app: FastAPI, admin: User, receiver: Receiver) -> None:
    add(admin, receiver)
    operator = new_client(app)
    email = f"op-{uuid.uuid4().hex[:8]}@example.com"
    with app.state.spendsense.sessions.begin() as session:
        create_user(session, admin.tenant_id, email, hash_password(PASSWORD)).role = "operator"
    csrf = operator.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": anonymous_csrf(operator)},
    ).json()["csrf_token"]
    assert operator.get("/api/channels").status_code == 403
    refused = operator.post(
        "/api/channels",
        json={"kind": "slack", "name": "x", "url": receiver.url("/x")},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 403
    assert len(admin.client.get("/api/channels").json()) == 1


def test_the_settings_page_has_the_channels_section(admin: User) -> None:
    page = admin.client.get("/settings")
    assert page.status_code == 200
    assert 'id="channels-section"' in page.text and "/static/channels.js" in page.text
    assert admin.client.get("/static/channels.js").status_code == 200
