"""Generated from the app's route table, so a new route cannot skip these checks:

* every route needs a log-in unless it is on the short public list;
* every route that needs a log-in declares the role it needs (``api.deps.RoleCheck``
  among its dependencies), and that role is the one :data:`NEEDS` expects
  (``tests/api/test_roles.py`` then calls each as a member below it);
* every state-changing route refuses a request without the right CSRF token;
* every route that takes an id answers user A with 404 for user B's ids (403 for B's
  e-mailed link), and B's resources are unchanged afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from actions.links import sign, signing_key
from api.deps import RoleCheck
from api.routes import ROUTERS
from spendsense.settings import Settings
from spendsense.store.models.api import InstanceView
from tests.api.conftest import User, anonymous_csrf, new_client, random_instance_id, seed_instance
from tests.api.waste_seeds import seed_waste

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
    ("GET", "/invite/{token}"),
    ("POST", "/invite/{token}"),
}
# Pages of account e-mails' links: the token is the credential, of no tenant (another
# tenant's Stop link is just an unknown token there: 404).
MAIL_LINKS = ("/verify/", "/reset/", "/invite/")
LOGIN_PAGES = {"/", "/settings", "/monitoring", "/mail", "/instances/{instance_id}", "/savings"}
LOGIN_PAGES |= {"/waste", "/waste/{kind}", "/waste/{kind}/{resource_id}"}
PARAM = re.compile(r"{(\w+)}")
NOT_IDS = {"kind"}  # a path parameter the same for every tenant (no 404 for B's value)
# The role each route needs beyond viewer (every other route behind a log-in needs viewer):
# stop, start, "not idle" and schedules' runs need an operator; accounts, settings,
# policy, channels, members and schedules' definitions an admin.
NEEDS: dict[tuple[str, str], str] = {
    ("POST", "/api/instances/bulk"): "operator",
    ("POST", "/api/instances/{instance_id}/stop"): "operator",
    ("POST", "/api/instances/{instance_id}/start"): "operator",
    ("POST", "/api/instances/{instance_id}/not-idle"): "operator",
    ("POST", "/api/accounts"): "admin",
    ("PATCH", "/api/accounts/{account_id}"): "admin",
    ("DELETE", "/api/accounts/{account_id}"): "admin",
    ("POST", "/api/accounts/{account_id}/test"): "admin",
    ("PUT", "/api/settings"): "admin",
    ("PUT", "/api/settings/ceilings"): "admin",
    ("PUT", "/api/settings/anomaly-alerts"): "admin",
    ("POST", "/api/members/invites"): "admin",
    ("PUT", "/api/members/{user_id}"): "admin",
    ("DELETE", "/api/members/{user_id}"): "admin",
    # channels hold webhook URLs and signing secrets: admins only, reading included
    ("GET", "/api/channels"): "admin",
    ("POST", "/api/channels"): "admin",
    ("PUT", "/api/channels/{channel_id}"): "admin",
    ("DELETE", "/api/channels/{channel_id}"): "admin",
    ("POST", "/api/channels/{channel_id}/test"): "admin",
    ("POST", "/api/waste/{kind}/{resource_id}/actions/{action}"): "operator",
    ("PUT", "/api/schedules"): "admin",
    ("DELETE", "/api/schedules"): "admin",
    ("PUT", "/api/instances/{instance_id}/schedule"): "operator",
}
# A body that passes validation where ``{}`` would not (so the route itself answers).
BODIES: dict[tuple[str, str], object] = {("PUT", "/api/members/{user_id}"): {"role": "viewer"}}


def api_routes() -> list[APIRoute]:
    """Every route the app includes (``api.routes.ROUTERS``)."""
    out = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            out.append(route)
    return out


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app includes (``api.routes.ROUTERS``)."""
    return sorted(
        (m, route.path_format)  # converters left out ({id:path} is {id}), as OpenAPI does
        for route in api_routes()
        for m in sorted(route.methods)
        if m != "HEAD"
    )


def _role_checks(dependant: Dependant) -> list[str]:
    """The roles of the :class:`RoleCheck` dependencies under ``dependant``, at any depth."""
    found = [dependant.call.role] if isinstance(dependant.call, RoleCheck) else []
    for sub in dependant.dependencies:
        found += _role_checks(sub)
    return found


def declared_roles() -> dict[tuple[str, str], str | None]:
    """(method, path) -> the role the route declares (``None``: no role check)."""
    out: dict[tuple[str, str], str | None] = {}
    for route in api_routes():
        checks = sorted(set(_role_checks(route.dependant)))
        assert len(checks) <= 1, f"{route.path} checks several roles: {checks}"
        for method in route.methods - {"HEAD"}:
            out[(method, route.path_format)] = checks[0] if checks else None
    return out


def expected_role(method: str, path: str) -> str | None:
    """The role :data:`NEEDS` (and the rule that reads need a viewer) gives a route."""
    if (method, path) in PUBLIC or (method == "GET" and path in LOGIN_PAGES):
        return None
    return NEEDS.get((method, path), "viewer")


@dataclass
class Tenant:
    user: User
    instance_id: str
    account_id: str
    link: str
    user_id: int = 0  # a member's id (0: no one's)
    resource_id: str = "eipalloc-0nowhere"  # a wasted resource's (an Elastic IP)
    channel_id: int = 2_000_000_000  # a notification channel's (this one: no one's)

    def fill(self, path: str) -> str:
        values = {
            "instance_id": self.instance_id,
            "account_id": self.account_id,
            "token": self.link,
            "user_id": str(self.user_id),
            "kind": "elastic-ip",
            "resource_id": self.resource_id,
            "action": "release",
            "channel_id": str(self.channel_id),
        }
        # an id this test has no value for: "1" (no one's; the 404 test asks for B's)
        return PARAM.sub(lambda m: values.get(m.group(1), "1"), path)


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
    user_id = user.client.get("/api/auth/me").json()["user_id"]
    resource_id = seed_waste(db, user.tenant_id, account_id)
    channel = user.post(
        "/api/channels",
        json={"kind": "slack", "name": "ops", "url": "https://hooks.slack.com/services/T/B/x"},
    )
    assert channel.status_code == 201, channel.text
    channel_id = channel.json()["id"]
    return Tenant(user, instance_id, account_id, link, user_id, resource_id, channel_id)


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
    assert set(NEEDS) <= table


def test_every_route_behind_a_log_in_declares_the_role_it_needs() -> None:
    declared = declared_roles()
    wrong = {
        route: (role, expected_role(*route))
        for route, role in declared.items()
        if role != expected_role(*route)
    }
    assert not wrong, f"(declared, expected) roles; add the route to NEEDS if it acts: {wrong}"
    assert set(declared.values()) == {None, "viewer", "operator", "admin"}


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
        if set(PARAM.findall(path)) <= NOT_IDS:
            continue
        unknown = set(PARAM.findall(path)) - {
            "instance_id",
            "account_id",
            "token",
            "user_id",
            "resource_id",
            "action",
            "channel_id",
            *NOT_IDS,
        }
        assert not unknown, f"{path}: add B's value for {unknown} to this test"
        headers = {} if method in SAFE else {"X-CSRF-Token": a.user.csrf}
        body = BODIES.get((method, path), {})
        resp = a.user.client.request(method, b.fill(path), headers=headers, json=body)
        expected = 403 if path.startswith("/links/") else 404
        assert resp.status_code == expected, (method, path, resp.status_code, resp.text[:200])
        if path.startswith(MAIL_LINKS):
            assert "This link cannot be used" in resp.text
            continue
        if not path.startswith("/links/"):
            # indistinguishable from an id that exists nowhere: nothing of B's leaks
            nowhere = Tenant(a.user, random_instance_id(), "999999999999", "")
            absent = a.user.client.request(method, nowhere.fill(path), headers=headers, json=body)
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
