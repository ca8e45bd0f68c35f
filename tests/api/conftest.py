"""One API app on a PostgreSQL database for the whole suite; each test signs up its own users.

Tenants are what isolates tests from each other here (as they isolate customers), so
the app and its database are shared and every test makes fresh users.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from projector.projection import Projector, ProjectorMetrics, make_consumer
from sandbox.mail import sent_messages
from spendsense.counters import projection_changes
from spendsense.events import AnomalyRecord
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ActionsSettings, ApiSettings, KafkaSettings, Settings, StoreSettings
from spendsense.store import Store, create_tenant, open_store
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox

PASSWORD = "correct horse battery"
VENDOR = "210987654321"


@pytest.fixture(scope="session")
def api_settings(
    postgres_server: PostgresServer, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    var = tmp_path_factory.mktemp("api-var")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=var,
        aws=sandbox.aws_settings(),  # account mail goes through the sandbox's SES
        store=StoreSettings(url=postgres_server.create_database()),
        api=ApiSettings(
            session_secret=SecretStr("s" * 48),
            login_max_failures=5,
            vendor_account_id=VENDOR,
            signup_max_per_client=10_000,  # every test signs up from TestClient's address
        ),
    )


@pytest.fixture(scope="session")
def api_app(api_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(api_settings, registry=CollectorRegistry())
    with TestClient(app):  # runs the lifespan once: migrates the store
        yield app
    app.state.spendsense.engine.dispose()


@pytest.fixture
def db(api_app: FastAPI) -> Iterator[Session]:
    with api_app.state.spendsense.sessions() as session:
        yield session


@dataclass
class User:
    """A signed-up user with their own browser-like client (cookies kept)."""

    client: TestClient
    email: str
    tenant_id: str
    csrf: str

    def post(self, url: str, **kw: object) -> object:
        return self.client.post(url, headers={"X-CSRF-Token": self.csrf}, **kw)  # type: ignore[arg-type]


def new_client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def anonymous_csrf(client: TestClient) -> str:
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    assert isinstance(token, str)
    return token


# A link in an account e-mail, and the CSRF field of the page it opens.
MAILED_LINK = re.compile(r"https?://[^/\s]+(/(?:verify|reset|invite)/[A-Za-z0-9_-]+)")
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def mailed_links(endpoint: str, email: str, kind: str = "/verify/") -> list[str]:
    """The paths of the ``kind`` links mailed to ``email``, oldest first, read from the
    sandbox SES's mail log (the inbox: the API sends account mail before it answers)."""
    return [
        found.group(1)
        for m in sent_messages(endpoint)
        if email.lower() in {t.lower() for t in m.to}
        for found in MAILED_LINK.finditer(m.text or "")
        if found.group(1).startswith(kind)
    ]


def mailed_link(endpoint: str, email: str, kind: str = "/verify/") -> str:
    """The newest ``kind`` link mailed to ``email`` (see :func:`mailed_links`)."""
    links = mailed_links(endpoint, email, kind)
    assert links, f"no {kind} link was mailed to {email}"
    return links[-1]


def mail_endpoint(app: FastAPI) -> str:
    """Where the app's SES is: the sandbox, whose mail log is the inbox."""
    endpoint = app.state.spendsense.settings.aws.endpoint_url
    assert endpoint, "the app sends account mail to the sandbox only with aws.endpoint_url set"
    return str(endpoint)


def open_link(client: httpx.Client, path: str) -> httpx.Response:
    """Open a mailed confirmation link as a person does: the page (GET), then its button
    (POST with the page's CSRF field); the POST's answer, redirects not followed."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = CSRF_INPUT.search(page.text)
    assert token is not None, page.text
    return client.post(path, data={"csrf_token": token.group(1)}, follow_redirects=False)


def request_signup(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """``POST /api/auth/signup`` with the client's anonymous CSRF token."""
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    return client.post(
        "/api/auth/signup",
        json={"email": email, "password": password, "organisation": "Acme"},
        headers={"X-CSRF-Token": csrf},
    )


def confirmed_signup(
    client: httpx.Client, endpoint: str, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Sign ``email`` up the way a person does (request, mailed link, confirm); the
    client is then logged in: returns ``/api/auth/me``."""
    asked = request_signup(client, email, password)
    assert asked.status_code == 202, asked.text
    confirmed = open_link(client, mailed_link(endpoint, email))
    assert confirmed.status_code == 303, confirmed.text
    me = client.get("/api/auth/me")
    assert me.status_code == 200, me.text
    body: dict[str, Any] = me.json()
    return body


def sign_up(app: FastAPI, email: str | None = None) -> User:
    client = new_client(app)
    email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
    me = confirmed_signup(client, mail_endpoint(app), email)
    return User(client=client, email=email, tenant_id=me["tenant_id"], csrf=me["csrf_token"])


@pytest.fixture
def alice(api_app: FastAPI) -> User:
    return sign_up(api_app)


@pytest.fixture
def bob(api_app: FastAPI) -> User:
    return sign_up(api_app)


@pytest.fixture
def var_dir(api_settings: Settings) -> Path:
    return api_settings.var_dir


def seed_instance(
    session: Session,
    tenant_id: str,
    instance_id: str,
    *,
    account_id: str = "111111111111",
    idle: bool = False,
    state: str = "running",
    waste: float = 0.0,
    **extra: object,
) -> None:
    """One row in the instances projection, as the projector would leave it."""
    from datetime import UTC, datetime

    from spendsense.store.models.api import InstanceView

    now = datetime.now(UTC)
    values: dict[str, object] = {
        "name": f"srv-{instance_id[-4:]}",
        "instance_type": "t3.large",
        "idle_score": 0.95 if idle else 0.05,  # the model's novelty, never shown
        "confidence": 0.87 if idle else None,
        "idle_since": now if idle else None,
        "reason": "CPU flat at 0.3% for 3 days" if idle else "",
        "observed_at": now,
        "scored_at": now,
    }
    session.add(
        InstanceView(
            tenant_id=tenant_id,
            instance_id=instance_id,
            account_id=account_id,
            region="us-east-1",
            state=state,
            idle=idle,
            monthly_waste_usd=waste,
            **(values | extra),
        )
    )
    session.commit()


RUNAWAY_CPU: dict[str, Any] = {
    "metric": "cpu_percent",
    "observed": 97.0,
    "expected_low": 1.0,
    "expected_high": 12.0,
    "dollars_per_hour": None,
    "cost_basis": "no direct cost: a possible compromise",
}
"""What :func:`anomaly_record` takes for a runaway CPU: no direct cost, maybe a compromise."""


def anomaly_record(
    tenant_id: str,
    instance_id: str,
    since: datetime,
    *,
    status: Literal["open", "closed"] = "open",
    account_id: str = "111111111111",
    **extra: Any,
) -> AnomalyRecord:
    """An egress surge's record as the detector emits it (``closed``: ended 2 hours later
    unless ``ended_at`` is given): $0.09/GB on 30 GB an hour above the expected range."""
    values: dict[str, Any] = {
        "metric": "network_out_bytes",
        "direction": "up",
        "observed": 2.5e9,
        "expected_low": 1e5,
        "expected_high": 5e6,
        "score": 0.99,
        "dollars_per_hour": 2.7,
        "cost_basis": "data transfer out at $0.09/GB (us-east-1)",
        "instance_type": "m5.large",
        "name": f"srv-{instance_id[-4:]}",
    }
    values |= extra
    ended = values.pop("ended_at", since + timedelta(hours=2)) if status == "closed" else None
    return AnomalyRecord(
        tenant_id=tenant_id,
        account_id=account_id,
        region="us-east-1",
        instance_id=instance_id,
        incident_id=f"{instance_id}/{values['metric']}/{since:%Y%m%dT%H%M}",
        status=status,
        since=since,
        timestamp=ended or since,
        ended_at=ended,
        **values,
    )


def random_instance_id() -> str:
    return "i-" + uuid.uuid4().hex[:17]


@contextmanager
def live_api(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free port (a thread), for a browser or an SSE client."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def projector_setup(
    kafka: KafkaSettings, postgres_server: PostgresServer
) -> tuple[Store, Settings]:
    """A fresh store with tenant ``acme`` and settings on ``kafka``'s topics, for a projector."""
    store = open_store(StoreSettings(url=postgres_server.create_database()))
    with store.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id="acme")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        kafka=kafka,
        api=ApiSettings(session_secret=SecretStr("x" * 40)),
    )
    return store, settings


@contextmanager
def running_projector(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Projector]:
    """The projector consuming the settings' (prefixed) topics in a thread, its own group."""
    kafka = settings.kafka
    projector = Projector(
        sessions,
        kafka,
        ProjectorMetrics.create(CollectorRegistry()),
        changes=projection_changes(settings.var_dir),
    )
    api = settings.api.model_copy(update={"projector_group_id": f"proj-{uuid.uuid4().hex[:8]}"})
    consumer = make_consumer(kafka, api, projector.topics)
    stop = threading.Event()
    thread = threading.Thread(
        target=projector.run, args=(consumer, stop), name="projector", daemon=True
    )
    thread.start()
    try:
        yield projector
    finally:
        stop.set()
        thread.join(15)
        consumer.close()


def sandbox_settings(
    sandbox: Sandbox,
    kafka: KafkaSettings,
    postgres_server: PostgresServer,
    var_dir: Path,
    **sections: Any,
) -> Settings:
    """Settings of a test's own: the sandbox AWS account, ``kafka``'s (isolated) topics, a
    fresh database, plus ``sections`` (``api=ApiSettings(...)`` and the like)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=var_dir,
        kafka=kafka,
        aws=sandbox.aws_settings(),
        store=StoreSettings(url=postgres_server.create_database()),
        **sections,
    )


@pytest.fixture
def sandbox_app(
    sandbox: Sandbox, kafka: KafkaSettings, postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[FastAPI]:
    """An app of this test's own: the sandbox AWS account, isolated topics, a fresh store."""
    settings = sandbox_settings(
        sandbox,
        kafka,
        postgres_server,
        tmp_path,
        api=ApiSettings(
            session_secret=SecretStr("l" * 48),
            vendor_account_id=sandbox.vendor_account_id,
            demo_mode=True,
        ),
        actions=ActionsSettings(link_signing_key=SecretStr("k" * 48)),
    )
    app = create_app(settings, registry=CollectorRegistry())
    with new_client(app):  # lifespan: migrate
        yield app
    app.state.spendsense.engine.dispose()


def connect(user: User, sandbox: Sandbox, account_id: str) -> Any:
    """Connect the account and create its role with the ExternalId SpendSense generated."""
    role = f"SpendSense-{uuid.uuid4().hex[:6]}"
    account = user.post(
        "/api/accounts", json={"role_arn": f"arn:aws:iam::{account_id}:role/{role}"}
    ).json()
    sandbox.create_role(account_id, external_id=account["external_id"], role_name=role)
    return sandbox.client(
        "ec2", session=sandbox.assume(account["role_arn"], account["external_id"])
    )


def stoppable_running(ec2: Any, protect_tag: str) -> str:
    for reservation in ec2.describe_instances()["Reservations"]:
        for i in reservation["Instances"]:
            tags = {t["Key"] for t in i.get("Tags", [])}
            if (
                i["State"]["Name"] == "running"
                and i.get("RootDeviceType") == "ebs"
                and not i.get("InstanceLifecycle")
                and protect_tag not in tags
                and "aws:autoscaling:groupName" not in tags
            ):
                return str(i["InstanceId"])
    raise AssertionError("no stoppable running instance in the sandbox account")


def state(ec2: Any, iid: str) -> str:
    return str(
        ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"][
            "Name"
        ]
    )


def restart(ec2: Any, iid: str) -> None:
    """Start an instance a test stopped again (the session's sandbox is shared)."""
    deadline = time.monotonic() + 30
    while state(ec2, iid) not in {"stopped", "running", "pending"} and time.monotonic() < deadline:
        time.sleep(0.5)
    if state(ec2, iid) == "stopped":
        ec2.start_instances(InstanceIds=[iid])
