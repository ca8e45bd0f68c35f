"""The API app the reliability suite fuzzes and abuses: ``api.app.create_app`` on a SQLite store.

AWS calls go to the sandbox AWS account (the session ``sandbox`` fixture); the
session secret is one of the suite's known secrets so the log scan can look for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.deps import CSRF_HEADER
from spendsense.settings import ActionsSettings, ApiSettings, KafkaSettings, Settings, StoreSettings
from tests.api.conftest import confirmed_signup, mail_endpoint
from tests.fixtures.sandbox import Sandbox
from tests.reliability.conftest import LINK_KEY, SESSION_SECRET

PASSWORD = "fuzz-user-password-" + uuid.uuid4().hex[:12]


def api_settings(tmp: object, sandbox: Sandbox, kafka: KafkaSettings, **api: object) -> Settings:
    """Settings for an API app under test: its own SQLite file, the sandbox, known secrets."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=tmp,
        kafka=kafka,
        aws=sandbox.aws_settings(),
        store=StoreSettings(url=f"sqlite:///{tmp}/api.db"),
        api=ApiSettings(session_secret=SecretStr(SESSION_SECRET), **api),  # type: ignore[arg-type]
        actions=ActionsSettings(link_signing_key=SecretStr(LINK_KEY)),
    )


@dataclass
class Login:
    """A logged-in user: the session and CSRF cookies' values."""

    email: str
    tenant_id: str
    session: str
    csrf: str

    def cookies(self, settings: ApiSettings) -> dict[str, str]:
        return {settings.session_cookie: self.session, settings.csrf_cookie: self.csrf}

    @property
    def headers(self) -> dict[str, str]:
        return {CSRF_HEADER: self.csrf}


def _logged_in(
    client: TestClient, settings: ApiSettings, email: str, body: dict[str, str]
) -> Login:
    return Login(
        email=email,
        tenant_id=body["tenant_id"],
        session=client.cookies[settings.session_cookie],
        csrf=body["csrf_token"],
    )


def sign_up(app: FastAPI, settings: ApiSettings, email: str | None = None) -> Login:
    """Sign a new organisation's first user up (as a browser would: the request, then the
    link mailed through the sandbox's SES) and return its login."""
    email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
    client = TestClient(app)
    me = confirmed_signup(client, mail_endpoint(app), email, PASSWORD)
    return _logged_in(client, settings, email, me)


def log_in(app: FastAPI, settings: ApiSettings, email: str) -> Login:
    """A fresh session for an existing user."""
    client = TestClient(app)
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    resp = client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={CSRF_HEADER: csrf},
    )
    assert resp.status_code == 200, resp.text
    return _logged_in(client, settings, email, resp.json())
