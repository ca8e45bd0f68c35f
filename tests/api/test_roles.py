"""Several people per organisation: roles enforced on every route (from the route table),
invites that work once, removal that ends sessions, an admin always kept, tenant scope.

Members join the way people do: an admin's invite is mailed through the sandbox's SES and
its link is opened from the mail log, a password chosen on the page.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.links import sign, signing_key
from spendsense.settings import Settings
from spendsense.store.models import AuditEntry, LoginSession
from tests.api.conftest import (
    CSRF_INPUT,
    PASSWORD,
    User,
    mail_endpoint,
    mailed_link,
    new_client,
    random_instance_id,
    seed_instance,
)
from tests.api.test_route_table import SAFE, Tenant, api_routes, declared_roles

RANK = {"viewer": 0, "operator": 1, "admin": 2}


def send(user: User, method: str, url: str, **kw: Any) -> httpx.Response:
    """A state-changing call with the user's CSRF token."""
    return user.client.request(method, url, headers={"X-CSRF-Token": user.csrf}, **kw)


def invite(admin: User, email: str, role: str) -> httpx.Response:
    resp = send(admin, "POST", "/api/members/invites", json={"email": email, "role": role})
    assert resp.status_code in (202, 409), resp.text
    return resp


def accept(app: FastAPI, path: str, password: str = PASSWORD) -> tuple[int, User | None]:
    """Open an invite link as a person does: the page, then its form with a password.
    The POST's status, and the logged-in member on success."""
    client = new_client(app)
    page = client.get(path)
    if page.status_code != 200:
        return page.status_code, None
    token = CSRF_INPUT.search(page.text)
    assert token is not None, page.text
    done = client.post(
        path, data={"csrf_token": token.group(1), "password": password}, follow_redirects=False
    )
    if done.status_code != 303:
        return done.status_code, None
    me = client.get("/api/auth/me").json()
    return 303, User(
        client=client, email=me["email"], tenant_id=me["tenant_id"], csrf=me["csrf_token"]
    )


def join(app: FastAPI, admin: User, role: str) -> User:
    """A new member of ``admin``'s organisation with ``role``, logged in."""
    email = f"m{uuid.uuid4().hex[:10]}@example.com"
    invite(admin, email, role)
    status, member = accept(app, mailed_link(mail_endpoint(app), email, "/invite/"))
    assert status == 303 and member is not None
    return member


def log_in(app: FastAPI, email: str) -> tuple[TestClient, int]:
    """A fresh client's log-in with ``email``: the client and the answer's status."""
    client = new_client(app)
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    resp = client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    return client, resp.status_code


def me(user: User) -> dict[str, object]:
    body: dict[str, object] = user.client.get("/api/auth/me").json()
    return body


def members(user: User) -> dict[str, dict[str, object]]:
    listed = user.client.get("/api/members")
    assert listed.status_code == 200, listed.text
    return {m["email"]: m for m in listed.json()["members"]}


def test_each_role_gets_403_on_every_route_above_it(
    api_app: FastAPI, alice: User, db: Session, api_settings: Settings
) -> None:
    people = {role: join(api_app, alice, role) for role in ("viewer", "operator")}
    people["admin"] = alice
    instance_id = random_instance_id()
    seed_instance(db, alice.tenant_id, instance_id, idle=True)
    link = sign(
        signing_key(api_settings.actions, api_settings.var_dir),
        alice.tenant_id,
        instance_id,
        "stop",
        ttl_s=3600,
        account_id="111111111111",
        region="us-east-1",
    )
    # ids of nothing: a call that gets past the role check ends in 404 or 422, acting on
    # nothing; the Stop link is a real one (its page checks the role too)
    nowhere = Tenant(alice, random_instance_id(), "999999999999", link, user_id=0)
    # a call that passes the role check must act on nothing: an id or a body to refuse
    inert = {
        (m, r.path)
        for r in api_routes()
        for m in r.methods or ()
        if m not in SAFE and (r.dependant.path_params or r.dependant.body_params)
    }
    checked = {"viewer": 0, "operator": 0, "passed": 0}
    for (method, path), needed in sorted(declared_roles().items()):
        if needed is None:
            continue
        for role, person in people.items():
            below = RANK[role] < RANK[needed]
            if not below and (method, path) not in inert:
                continue
            headers = {} if method in SAFE else {"X-CSRF-Token": person.csrf}
            resp = person.client.request(method, nowhere.fill(path), headers=headers, json=[])
            refused = resp.status_code == 403 and resp.json()["error"]["code"] == "role_required"
            assert refused == below, (role, method, path, resp.status_code, resp.text[:200])
            if below:
                assert needed in resp.json()["error"]["message"]
            checked[role if below else "passed"] += 1
    assert checked["viewer"] >= 14 and checked["operator"] >= 10 and checked["passed"] >= 14
    # the e-mailed Stop link: a viewer is told the role it needs, and the link stays unused
    viewer = people["viewer"]
    page = viewer.client.get(f"/links/{link}")
    assert page.status_code == 403 and "needs the operator role" in page.text
    assert people["operator"].client.get(f"/links/{link}").status_code == 200


def test_the_first_user_is_admin_and_an_invite_link_works_once(
    api_app: FastAPI, alice: User, db: Session
) -> None:
    assert me(alice)["role"] == "admin"
    email = f"m{uuid.uuid4().hex[:10]}@Example.com"
    invite(alice, email, "operator")
    pending = alice.client.get("/api/members").json()["invites"]
    assert [(i["email"], i["role"]) for i in pending] == [(email.lower(), "operator")]
    path = mailed_link(mail_endpoint(api_app), email.lower(), "/invite/")
    status, member = accept(api_app, path, password="short")
    assert status == 422 and member is None  # the form again; the link is not used up
    status, member = accept(api_app, path)
    assert status == 303 and member is not None
    assert member.tenant_id == alice.tenant_id and me(member)["role"] == "operator"
    assert members(alice)[email.lower()]["role"] == "operator"
    assert alice.client.get("/api/members").json()["invites"] == []
    # the link worked once
    again = new_client(api_app).get(path)
    assert again.status_code == 410 and "used already" in again.text
    status, _ = accept(api_app, path)
    assert status == 410
    # the audit names the people: who invited, who joined
    actors = dict(
        db.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.tenant_id == alice.tenant_id
            )
        ).all()
    )
    assert actors["member_invited"] == alice.email
    assert actors["member_joined"] == email.lower()


def test_an_invite_to_an_address_with_an_account_is_refused_at_the_link(
    api_app: FastAPI, alice: User, bob: User
) -> None:
    assert invite(alice, alice.email, "viewer").status_code == 409  # a member already
    invite(alice, bob.email, "viewer")  # the same answer as for any address
    status, member = accept(api_app, mailed_link(mail_endpoint(api_app), bob.email, "/invite/"))
    assert status == 409 and member is None
    assert me(bob)["tenant_id"] == bob.tenant_id


def test_removing_a_member_ends_their_sessions_at_once(
    api_app: FastAPI, alice: User, db: Session
) -> None:
    member = join(api_app, alice, "operator")
    other_device, status = log_in(api_app, member.email)
    assert status == 200
    user_id = me(member)["user_id"]
    assert member.client.get("/api/instances").status_code == 200  # kept by this process
    gone = send(alice, "DELETE", f"/api/members/{user_id}")
    assert gone.status_code == 200, gone.text
    assert member.client.get("/api/instances").status_code == 401
    assert other_device.get("/api/auth/me").status_code == 401
    sessions = db.scalar(select(func.count()).where(LoginSession.user_id == user_id))
    assert sessions == 0
    assert member.email not in members(alice)
    assert log_in(api_app, member.email)[1] == 401


def test_a_role_change_applies_at_the_next_request(api_app: FastAPI, alice: User) -> None:
    member = join(api_app, alice, "viewer")
    user_id = me(member)["user_id"]
    url = f"/api/instances/{random_instance_id()}/not-idle"
    assert send(member, "POST", url).status_code == 403
    changed = send(alice, "PUT", f"/api/members/{user_id}", json={"role": "operator"})
    assert changed.status_code == 200 and changed.json()["role"] == "operator"
    assert send(member, "POST", url).status_code == 404  # past the role check


def test_the_last_admin_can_be_neither_removed_nor_demoted(api_app: FastAPI, alice: User) -> None:
    mine = me(alice)["user_id"]
    demote = send(alice, "PUT", f"/api/members/{mine}", json={"role": "operator"})
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_admin"
    remove = send(alice, "DELETE", f"/api/members/{mine}")
    assert remove.status_code == 409 and remove.json()["error"]["code"] == "last_admin"
    other = join(api_app, alice, "admin")
    other_id = me(other)["user_id"]
    # with two admins, one may step down; then the other is the last and is kept
    stepped = send(alice, "PUT", f"/api/members/{mine}", json={"role": "viewer"})
    assert stepped.status_code == 200
    assert send(alice, "DELETE", f"/api/members/{other_id}").status_code == 403
    last = send(other, "DELETE", f"/api/members/{other_id}")
    assert last.status_code == 409
    roles = {m["email"]: m["role"] for m in members(other).values()}
    assert roles == {alice.email: "viewer", other.email: "admin"}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_another_organisations_member_is_404_like_no_one(
    api_app: FastAPI, alice: User, bob: User, method: str
) -> None:
    member = join(api_app, alice, "operator")
    theirs, nobody = me(member)["user_id"], 2_000_000_000
    answers = [
        send(bob, method, f"/api/members/{uid}", json={"role": "viewer"})
        for uid in (theirs, nobody)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert member.email not in members(bob)
    assert members(alice)[member.email]["role"] == "operator"
    assert member.client.get("/api/instances").status_code == 200
