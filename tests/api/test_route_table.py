"""Generated from the app's route table, so a new route cannot skip these checks:

* every route needs a log-in unless it is on the short public list;
* every state-changing route refuses a request without the right CSRF token;
* every route that takes an id answers user A with 404 for user B's ids (403 for B's
  e-mailed link), and B's resources are unchanged afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from actions.links import sign, signing_key
from api.routes import ROUTERS
from spendsense.settings import Settings
from spendsense.store.models.api import InstanceView
from tests.api.conftest import User, anonymous_csrf, new_client, random_instance_id, seed_instance

SAFE = {"GET", "HEAD", "OPTIONS"}
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/auth/csrf"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/public/role-template.json"),
    ("GET", "/login"),
    ("GET", "/signup"),
    ("GET", "/links/{token}"),
    ("POST", "/links/{token}"),
    ("POST", "/api/auth/password/forgot"),
    ("POST", "/api/auth/password/reset"),
    ("GET", "/forgot"),
    ("GET", "/verify/{token}"),
    ("POST", "/verify/{token}"),
    ("GET", "/reset/{token}"),
}
# Pages of account e-mails' links: the token is the credential, of no tenant (another
# tenant's Stop link is just an unknown token there: 404).
MAIL_LINKS = ("/verify/", "/reset/")
LOGIN_PAGES = {"/", "/settings", "/monitoring", "/mail", "/instances/{instance_id}"}
PARAM = re.compile(r"{(\w+)}")


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app includes (``api.routes.ROUTERS``)."""
    out = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            out.extend((m, route.path) for m in sorted(route.methods) if m != "HEAD")
    return sorted(out)


@dataclass
class Tenant:
    user: User
    instance_id: str
    account_id: str
    link: str

    def fill(self, path: str) -> str:
        values = {
            "instance_id": self.instance_id,
            "account_id": self.account_id,
            "token": self.link,
        }
        return PARAM.sub(lambda m: values[m.group(1)], path)


def _tenant(user: User, account_id: str, db: Session, settings: Settings) -> Tenant:
    created = user.post(
        "/api/accounts", json={"role_arn": f"arn:aws:iam::{account_id}:role/SpendSense"}
    )
    assert created.status_code == 201, created.text
    instance_id = random_instance_id()
    seed_instance(db, user.tenant_id, instance_id, account_id=account_id, idle=True, waste=50.0)
    key = signing_key(settings.actions, settings.var_dir)
    link = sign(
        key,
        user.tenant_id,
        instance_id,
        "stop",
        ttl_s=3600,
        account_id=account_id,
        region="us-east-1",
    )
    return Tenant(user=user, instance_id=instance_id, account_id=account_id, link=link)


@pytest.fixture
def a_and_b(alice: User, bob: User, db: Session, api_settings: Settings) -> tuple[Tenant, Tenant]:
    return _tenant(alice, "111111111111", db, api_settings), _tenant(
        bob, "222222222222", db, api_settings
    )


def test_route_table_is_complete_and_public_list_names_real_routes(api_app: FastAPI) -> None:
    table = set(routes(api_app))
    documented = {
        (method.upper(), path) for path, ops in api_app.openapi()["paths"].items() for method in ops
    }
    assert documented <= table
    assert table >= PUBLIC
    assert {("GET", p) for p in LOGIN_PAGES} <= table


def test_every_other_route_needs_a_login(api_app: FastAPI, a_and_b: tuple[Tenant, Tenant]) -> None:
    a, _ = a_and_b
    checked = 0
    for method, path in routes(api_app):
        if (method, path) in PUBLIC:
            continue
        client = new_client(api_app)
        headers = {} if method in SAFE else {"X-CSRF-Token": anonymous_csrf(client)}
        resp = client.request(
            method, a.fill(path), headers=headers, json={}, follow_redirects=False
        )
        if method == "GET" and path in LOGIN_PAGES:
            assert resp.status_code == 303 and resp.headers["location"] == "/login", path
        else:
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert resp.json()["error"]["code"] == "not_authenticated", (method, path)
        checked += 1
    assert checked >= 20


def test_every_state_changing_route_checks_csrf(
    api_app: FastAPI, a_and_b: tuple[Tenant, Tenant]
) -> None:
    a, b = a_and_b
    unsafe = [(m, p) for m, p in routes(api_app) if m not in SAFE]
    assert len(unsafe) >= 10
    for method, path in unsafe:
        url = a.fill(path)
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": b.user.csrf}):
            resp = a.user.client.request(method, url, headers=headers, json={})
            assert resp.status_code == 403, (method, path, headers, resp.status_code)
            if not path.startswith("/links/"):
                assert resp.json()["error"]["code"] == "csrf_failed"
        # not logged in: the csrf cookie alone (no matching header or field) is refused too
        anon = new_client(api_app)
        anonymous_csrf(anon)
        resp = anon.request(method, url, json={})
        assert resp.status_code == 403, (method, path, "anonymous")
    # and the same calls with the right token get past the check (a positive control)
    ok = a.user.post("/api/auth/logout")
    assert ok.status_code == 200


def test_user_a_gets_404_for_every_id_of_user_b(
    api_app: FastAPI, a_and_b: tuple[Tenant, Tenant], db: Session
) -> None:
    a, b = a_and_b
    with_ids = [(m, p) for m, p in routes(api_app) if PARAM.search(p)]
    assert {p for _, p in with_ids} >= {
        "/api/instances/{instance_id}",
        "/api/instances/{instance_id}/detail",
        "/api/instances/{instance_id}/anomalies",
        "/instances/{instance_id}",
        "/api/instances/{instance_id}/stop",
        "/api/accounts/{account_id}",
    }
    for method, path in with_ids:
        unknown = set(PARAM.findall(path)) - {"instance_id", "account_id", "token"}
        assert not unknown, f"{path}: add B's value for {unknown} to this test"
        headers = {} if method in SAFE else {"X-CSRF-Token": a.user.csrf}
        resp = a.user.client.request(method, b.fill(path), headers=headers, json={})
        expected = 403 if path.startswith("/links/") else 404
        assert resp.status_code == expected, (method, path, resp.status_code, resp.text[:200])
        if path.startswith(MAIL_LINKS):
            assert "This link cannot be used" in resp.text
            continue
        if not path.startswith("/links/"):
            # indistinguishable from an id that exists nowhere: nothing of B's leaks
            nowhere = Tenant(a.user, random_instance_id(), "999999999999", "")
            absent = a.user.client.request(method, nowhere.fill(path), headers=headers, json={})
            assert absent.status_code == 404
            if path not in LOGIN_PAGES:  # pages answer in HTML, the same page for both
                assert resp.json()["error"]["code"] == absent.json()["error"]["code"]
            assert resp.text.replace(b.instance_id, "X").replace(b.account_id, "X") == (
                absent.text.replace(nowhere.instance_id, "X").replace(nowhere.account_id, "X")
            )
        if method == "GET" and not path.startswith("/links/"):
            mine = a.user.client.get(a.fill(path))
            assert mine.status_code == 200, (path, mine.text[:200])  # A's own ids work
    # B's things are untouched
    db.expire_all()
    row = db.get(InstanceView, (b.user.tenant_id, b.instance_id))
    assert row is not None and row.state == "running" and row.last_action is None and row.idle
    accounts = b.user.client.get("/api/accounts").json()
    assert [x["account_id"] for x in accounts] == [b.account_id]
    assert b.user.client.get(f"/links/{b.link}").status_code == 200  # the link is still unused


def test_guessed_instance_ids_are_404_like_missing_ones(a_and_b: tuple[Tenant, Tenant]) -> None:
    a, b = a_and_b
    guessed = a.user.client.get(f"/api/instances/{b.instance_id}")
    missing = a.user.client.get(f"/api/instances/{random_instance_id()}")
    assert guessed.status_code == missing.status_code == 404
    assert guessed.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    listing = a.user.client.get("/api/instances").json()
    assert b.instance_id not in {i["instance_id"] for i in listing["items"]}
