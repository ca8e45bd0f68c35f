"""The instance list at a customer's scale (issue 20), on PostgreSQL: every sort, filter and
search against a Python reference of the same rows, keyset pages that neither skip nor
repeat while rows arrive and change, the view as CSV, and bulk actions through the rails.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.services import instance_csv
from spendsense.store.models.api import InstanceView
from tests.api.conftest import User, connect, restart, sign_up, state
from tests.fixtures.sandbox import Sandbox

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# Lower-case letters and digits only: PostgreSQL's collation and Python agree on their order.
WORDS = ("api", "batch", "cache", "db", "etl", "web")
TYPES = ("c5.large", "m5.large", "m5.xlarge", "r5.large", "t3.micro")
SINCE = tuple(datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=h) for h in (0, 5, 5, 9, 30))
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One instance as the test seeds it, and as the reference filters and sorts it."""

    instance_id: str
    name: str
    account_id: str
    region: str
    state: str
    instance_type: str
    verdict: str  # idle | provisional | active
    idle_since: datetime | None
    waste: float
    tags: dict[str, str] = field(default_factory=dict)

    def put(self, db: Session, tenant_id: str) -> None:
        db.add(
            InstanceView(
                tenant_id=tenant_id,
                instance_id=self.instance_id,
                name=self.name,
                account_id=self.account_id,
                region=self.region,
                state=self.state,
                instance_type=self.instance_type,
                idle=self.verdict == "idle",
                provisional=self.verdict == "provisional",
                confidence=0.5 if self.verdict != "active" else None,
                idle_since=self.idle_since,
                monthly_waste_usd=self.waste,
                tags=self.tags,
                reason="",
            )
        )


def random_row(rng: random.Random, n: int) -> Row:
    verdict = rng.choice(["idle", "idle", "idle", "provisional", "provisional", "active"])
    idle = verdict != "active"
    tags = {"team": rng.choice(["data", "web", "ml"]), "env": rng.choice(["prod", "dev"])}
    if n % 4 == 0:
        tags["Owner"] = rng.choice(["Ada Lovelace", "Grace Hopper"])
    if n % 9 == 0:
        tags["note"] = "cpu 100%_busy"  # LIKE's wildcards, taken literally by the search
    return Row(
        instance_id=f"i-{rng.getrandbits(68):017x}",
        name=f"{rng.choice(WORDS)}{rng.randint(1, 6)}",  # repeats: the id breaks the ties
        account_id=rng.choice(ACCOUNTS),
        region=rng.choice(REGIONS),
        state=rng.choice(["running", "running", "running", "stopped", "stopping", "pending"]),
        instance_type=rng.choice(TYPES),
        verdict=verdict,
        idle_since=rng.choice(SINCE) if idle else None,
        waste=rng.choice([0.0, 12.5, 30.0, 30.0, 75.25]) if verdict == "idle" else 0.0,
        tags=tags,
    )


# The reference: the same filters, search and sorts in plain Python.


def matches(row: Row, params: dict[str, Any]) -> bool:
    def one_of(name: str, value: str) -> bool:
        wanted = params.get(name)
        return not wanted or value in wanted

    text = str(params.get("q") or "").lower()
    found = not text or any(
        text in s.lower() for s in [row.name, row.instance_id, *row.tags, *row.tags.values()]
    )
    tags_ok = all(
        (t.partition("=")[0] in row.tags)
        and (not t.partition("=")[1] or row.tags[t.partition("=")[0]] == t.partition("=")[2])
        for t in params.get("tag", [])
    )
    idle = params.get("idle")
    return (
        found
        and tags_ok
        and one_of("account", row.account_id)
        and one_of("region", row.region)
        and one_of("state", row.state)
        and one_of("verdict", row.verdict)
        and (idle is None or (row.verdict == "idle") == (idle == "true"))
    )


def sort_key(row: Row, sort: str) -> tuple[Any, ...]:
    if sort == "waste":
        idle, running = row.verdict == "idle", row.state == "running"
        rank = 3 if idle and running else 2 if idle else 1 if running else 0
        return (rank, row.waste, row.instance_id)
    column = {"name": row.name, "type": row.instance_type, "state": row.state}
    return (column.get(sort, row.idle_since), row.instance_id)


def ordered(rows: list[Row], sort: str, order: str) -> list[Row]:
    """Rows in the view's order; never-idle rows last in both orders for idle_since."""
    desc = order == "desc"
    if sort == "idle_since":
        dated = [r for r in rows if r.idle_since is not None]
        never = [r for r in rows if r.idle_since is None]
        return sorted(dated, key=lambda r: sort_key(r, sort), reverse=desc) + sorted(
            never, key=lambda r: r.instance_id, reverse=desc
        )
    return sorted(rows, key=lambda r: sort_key(r, sort), reverse=desc)


def reference(rows: list[Row], params: dict[str, Any]) -> list[str]:
    sort = params.get("sort", "waste")
    order = params.get("order", "desc" if sort == "waste" else "asc")
    return [r.instance_id for r in ordered([r for r in rows if matches(r, params)], sort, order)]


def bulk(user: User, action: str, ids: list[str]) -> httpx.Response:
    """``POST /api/instances/bulk`` with the user's CSRF token."""
    return user.client.post(
        "/api/instances/bulk",
        json={"action": action, "instance_ids": ids},
        headers={"X-CSRF-Token": user.csrf},
    )


def walk(client: TestClient, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    """Every page of a view, following next_cursor."""
    cursors: list[str] = []
    for _ in range(100):
        paged = {**params, "limit": limit} | ({"cursor": cursors[-1]} if cursors else {})
        resp = client.get("/api/instances", params=paged)
        assert resp.status_code == 200, resp.text
        page: dict[str, Any] = resp.json()
        assert len(page["items"]) <= limit
        yield page
        if page["next_cursor"] is None:
            return
        assert page["next_cursor"] not in cursors, "the pages went round in a circle"
        cursors.append(page["next_cursor"])
    raise AssertionError("the pages never ended")


def walked_ids(client: TestClient, params: dict[str, Any], limit: int) -> list[str]:
    pages = list(walk(client, params, limit))
    assert {p["total"] for p in pages} == {sum(len(p["items"]) for p in pages)}
    return [i["instance_id"] for p in pages for i in p["items"]]


@dataclass
class Fleet:
    owner: User
    rows: list[Row]
    other: User
    others: list[Row]


@pytest.fixture(scope="module")
def fleet(api_app: FastAPI) -> Fleet:
    """60 instances of one tenant and 20 of another, with the same names and tags."""
    rng = random.Random(20)
    owner, other = sign_up(api_app), sign_up(api_app)
    rows = [random_row(rng, n) for n in range(60)]
    others = [random_row(rng, n) for n in range(20)]
    with api_app.state.spendsense.sessions() as db:
        for row in rows:
            row.put(db, owner.tenant_id)
        for row in others:
            row.put(db, other.tenant_id)
        db.commit()
    return Fleet(owner, rows, other, others)


VIEWS: list[dict[str, Any]] = [
    {},
    {"q": "DATA"},  # a tag value, any case
    {"q": "owner"},  # a tag key
    {"q": "100%_"},  # wildcards taken literally
    {"q": "web", "state": ["running", "stopped"]},
    {"state": ["running", "stopped"], "verdict": ["idle", "provisional"]},
    {"account": [ACCOUNTS[0]], "region": [REGIONS[0], REGIONS[1]], "tag": ["env=prod"]},
    {"tag": ["Owner"], "verdict": ["active", "provisional"]},
    {"tag": ["team=web", "env"], "q": "e"},
    {"idle": "true"},
    {"idle": "false", "region": [REGIONS[2]]},
]


@pytest.mark.parametrize("sort", ["waste", "idle_since", "name", "type", "state"])
def test_every_sort_filter_and_search_matches_the_reference(fleet: Fleet, sort: str) -> None:
    owner = fleet.owner.client
    for view in VIEWS:
        for order in ("desc", "asc", None):
            params = {**view, "sort": sort} | ({"order": order} if order else {})
            want = reference(fleet.rows, params)
            assert walked_ids(owner, params, limit=7) == want, params
    first = owner.get("/api/instances", params={"sort": sort}).json()
    assert (first["sort"], first["order"], first["limit"]) == (
        sort,
        "desc" if sort == "waste" else "asc",
        50,
    )
    assert first["summary"]["total"] == len(fleet.rows)


def test_the_searches_find_what_they_say(fleet: Fleet) -> None:
    """The reference is not vacuous: each kind of match finds rows, the wildcards one row."""
    owner = fleet.owner.client
    noted = [r.instance_id for r in fleet.rows if "note" in r.tags]
    assert sorted(walked_ids(owner, {"q": "100%_"}, 50)) == sorted(noted) and noted
    part = fleet.rows[3].instance_id[5:11].upper()
    assert fleet.rows[3].instance_id in walked_ids(owner, {"q": part}, 50)
    for view in VIEWS[:9]:
        assert reference(fleet.rows, view), view


def test_another_tenants_instances_never_show(fleet: Fleet) -> None:
    theirs = {r.instance_id for r in fleet.others}
    for params in ({}, {"q": "data"}, {"tag": ["team"]}, {"sort": "name"}):
        shown = walked_ids(fleet.owner.client, params, 50)
        assert shown and not theirs & set(shown)
        exported = fleet.owner.client.get("/api/instances.csv", params=params).text
        assert not any(iid in exported for iid in theirs)


def test_bad_cursors_and_parameters_are_refused_in_one_line(fleet: Fleet) -> None:
    owner = fleet.owner.client
    by_name = owner.get("/api/instances", params={"sort": "name", "limit": 5}).json()
    cursor = by_name["next_cursor"]
    forged = base64.urlsafe_b64encode(
        json.dumps(["idle_since", "asc", [0, "yesterday", "i-1"]]).encode()
    ).decode()
    wrong_types = base64.urlsafe_b64encode(
        json.dumps(["waste", "desc", ["3", 1.0, "i-1"]]).encode()
    ).decode()
    refused = [
        ({"cursor": cursor}, "made for sort=name&order=asc"),  # another sort
        ({"cursor": cursor, "sort": "name", "order": "desc"}, "made for sort=name&order=asc"),
        ({"cursor": "not a cursor!"}, "not one this API made"),
        ({"cursor": cursor[:-4]}, "not one this API made"),
        ({"cursor": forged, "sort": "idle_since"}, "not one this API made"),
        ({"cursor": wrong_types}, "not one this API made"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"q": "x" * 101}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"state": "sleeping"}, "state"),
        ({"verdict": "lazy"}, "verdict"),
        ({"sort": "cost"}, "sort"),
        ({"account": "12"}, "account"),
    ]
    for params, says in refused:
        resp = owner.get("/api/instances", params=params)
        assert resp.status_code == 422, (params, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "invalid_request" and says in error["message"], (params, error)
        assert "\n" not in error["message"]
    assert (
        by_name["next_cursor"]
        and owner.get("/api/instances", params={"sort": "name", "cursor": cursor}).status_code
        == 200
    )


@pytest.mark.parametrize("sort", ["waste", "idle_since", "name"])
def test_keyset_pages_neither_skip_nor_repeat_while_rows_arrive_and_change(
    api_app: FastAPI, db: Session, sort: str
) -> None:
    owner = sign_up(api_app)
    rng = random.Random(sort)
    rows = {r.instance_id: r for r in (random_row(rng, n) for n in range(25))}
    for row in rows.values():
        row.put(db, owner.tenant_id)
    db.commit()
    order = "desc" if sort == "waste" else "asc"
    moved: set[str] = set()  # rows whose own sort key changed: they may show again or not
    behind: set[str] = set()  # rows that arrived before the page being read: never shown
    seen: list[str] = []
    n = 100
    for page in walk(owner.client, {"sort": sort}, limit=4):
        seen.extend(i["instance_id"] for i in page["items"])
        if page["next_cursor"] is None:
            break
        # between pages: two rows arrive, one changes but keeps its key, one moves
        for _ in range(2):
            n += 1
            new = random_row(rng, n)
            now = ordered([*rows.values(), new], sort, order)
            if now.index(new) < now.index(rows[seen[-1]]):
                behind.add(new.instance_id)
            rows[new.instance_id] = new
            new.put(db, owner.tenant_id)
        unseen = [i for i in rows if i not in seen and i not in behind and i not in moved]
        kept_key = rng.choice(list(rows))
        db.execute(
            update(InstanceView)
            .where(InstanceView.tenant_id == owner.tenant_id)
            .where(InstanceView.instance_id == kept_key)
            .values(reason="looked at again", confidence=0.99, last_action="not-idle:recorded")
        )
        if unseen:
            mover = rows[rng.choice(unseen)]
            moved.add(mover.instance_id)
            rows[mover.instance_id] = changed = replace(
                mover, name=mover.name[::-1], waste=mover.waste + 1000.0, idle_since=T0
            )
            db.execute(
                update(InstanceView)
                .where(InstanceView.tenant_id == owner.tenant_id)
                .where(InstanceView.instance_id == mover.instance_id)
                .values(name=changed.name, monthly_waste_usd=changed.waste, idle_since=T0)
            )
        db.commit()

    steady = [i for i in seen if i not in moved]
    assert len(steady) == len(set(steady)), "a row whose key did not change was repeated"
    assert not behind & set(seen), "a row that arrived behind the page showed up"
    should_see = set(rows) - moved - behind
    assert should_see - set(seen) == set(), "a row whose key did not change was skipped"
    final = [r.instance_id for r in ordered(list(rows.values()), sort, order)]
    assert steady == [i for i in final if i in set(steady)], "pages out of order"
    assert behind and moved  # the walk did meet both cases


def read_csv(client: TestClient, params: dict[str, Any]) -> list[dict[str, str]]:
    resp = client.get("/api/instances.csv", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"].startswith('attachment; filename="spendsense-')
    assert resp.headers["content-disposition"].endswith('.csv"')
    reader = csv.DictReader(io.StringIO(resp.text))
    assert reader.fieldnames == list(instance_csv.COLUMNS)
    return list(reader)


def test_the_csv_is_the_view_in_chunks(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance_csv, "CHUNK_ROWS", 7)  # several chunks from 60 rows
    by_id = {r.instance_id: r for r in fleet.rows}
    for params in ({}, {"sort": "idle_since", "order": "desc"}, VIEWS[6], {"q": "data"}):
        rows = read_csv(fleet.owner.client, params)
        assert [r["instance_id"] for r in rows] == reference(fleet.rows, params), params
    rows = read_csv(fleet.owner.client, {})
    for cells in rows:
        row = by_id[cells["instance_id"]]
        assert (cells["name"], cells["account_id"], cells["region"]) == (
            row.name,
            row.account_id,
            row.region,
        )
        assert (cells["instance_type"], cells["state"], cells["verdict"]) == (
            row.instance_type,
            row.state,
            row.verdict,
        )
        assert float(cells["monthly_waste_usd"]) == row.waste
        assert cells["idle_since"] == (row.idle_since.isoformat() if row.idle_since else "")
        assert cells["tags"] == ";".join(f"{k}={v}" for k, v in sorted(row.tags.items()))


def test_csv_cells_never_run_as_formulas(api_app: FastAPI, db: Session) -> None:
    owner = sign_up(api_app)
    Row(
        instance_id="i-0000000000000f00d",
        name='=HYPERLINK("http://evil.example","x")',
        account_id=ACCOUNTS[0],
        region=REGIONS[0],
        state="running",
        instance_type="t3.micro",
        verdict="active",
        idle_since=None,
        waste=0.0,
        tags={"@cmd": "+1", "b": "-2"},
    ).put(db, owner.tenant_id)
    db.commit()
    (cells,) = read_csv(owner.client, {})
    assert cells["name"] == """'=HYPERLINK("http://evil.example","x")"""
    assert cells["tags"] == "'@cmd=+1;b=-2"
    assert cells["instance_id"] == "i-0000000000000f00d"


def test_bulk_on_another_tenants_instances_is_not_found_and_changes_nothing(
    fleet: Fleet, db: Session
) -> None:
    theirs = [r.instance_id for r in fleet.others[:3]]
    for action in ("stop", "not-idle"):
        resp = bulk(fleet.owner, action, theirs)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["done"], body["stopped"]) == (0, 0)
        assert [(r["instance_id"], r["ok"], r["result"]) for r in body["results"]] == [
            (iid, False, "not_found") for iid in theirs
        ]
        assert all("no instance" in r["message"] for r in body["results"])
    untouched = db.scalars(
        select(InstanceView.last_action).where(
            InstanceView.tenant_id == fleet.other.tenant_id, InstanceView.instance_id.in_(theirs)
        )
    ).all()
    assert untouched == [None, None, None]


def test_bulk_requests_are_checked(fleet: Fleet) -> None:
    for action, ids, says in (
        ("stop", [], "instance_ids"),
        ("stop", ["i-1234", "i-1234"], "list each instance once"),
        ("stop", [f"i-{n:08d}" for n in range(101)], "instance_ids"),
        ("terminate", ["i-1234"], "action"),
    ):
        resp = bulk(fleet.owner, action, ids)
        assert resp.status_code == 422, (action, ids)
        assert says in resp.json()["error"]["message"]
    refused = fleet.owner.client.post(
        "/api/instances/bulk", json={"action": "stop", "instance_ids": ["i-1234"]}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"


def running_stoppable(ec2: Any, protect_tag: str) -> list[str]:
    """The account's running instances the rails would let SpendSense stop."""
    found = []
    for reservation in ec2.describe_instances()["Reservations"]:
        for i in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            if (
                i["State"]["Name"] == "running"
                and i.get("RootDeviceType") == "ebs"
                and not i.get("InstanceLifecycle")
                and not {protect_tag, "aws:autoscaling:groupName", "spendsense:auto-stop"}
                & set(tags)
            ):
                found.append(str(i["InstanceId"]))
    return found


@dataclass
class Trio:
    """A fresh tenant's connected sandbox account with three running instances it may
    stop, the last one carrying the protect tag."""

    user: User
    ec2: Any
    protect: str
    ids: list[str]


@pytest.fixture
def trio(sandbox_app: FastAPI, sandbox: Sandbox) -> Iterator[Trio]:
    """Three stoppable instances in the projection; afterwards the tag goes and stopped ones
    start again (the session's sandbox is shared)."""
    user = sign_up(sandbox_app)
    account = sandbox.tenant_account_ids[1]
    protect_tag = sandbox_app.state.spendsense.settings.actions.protect_tag
    trio = Trio(user, connect(user, sandbox, account), protect_tag, [])
    trio.ids = running_stoppable(trio.ec2, protect_tag)[:3]
    assert len(trio.ids) == 3, f"the sandbox account has only {trio.ids} to stop"
    trio.ec2.create_tags(Resources=trio.ids[2:], Tags=[{"Key": protect_tag, "Value": "yes"}])
    with sandbox_app.state.spendsense.sessions() as db:
        for iid in trio.ids:
            Row(iid, "bulk1", account, "us-east-1", "running", "t3.micro", "idle", T0, 30.0).put(
                db, user.tenant_id
            )
        db.commit()
    yield trio
    trio.ec2.delete_tags(Resources=trio.ids[2:], Tags=[{"Key": protect_tag}])
    deadline = time.monotonic() + 30
    for iid in trio.ids[:2]:
        while state(trio.ec2, iid) == "stopping" and time.monotonic() < deadline:
            time.sleep(0.5)
        restart(trio.ec2, iid)


@pytest.mark.kafka
def test_bulk_stop_of_three_with_one_protected_stops_two_and_audits_three(trio: Trio) -> None:
    user, (first, second, guarded) = trio.user, trio.ids
    asked = [first, guarded, second]
    resp = bulk(user, "stop", asked)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    results = {r["instance_id"]: r for r in body["results"]}
    assert [r["instance_id"] for r in body["results"]] == asked
    assert (body["stopped"], body["done"]) == (2, 2)
    assert results[first]["ok"] and results[first]["result"] == "stopped"
    assert results[second]["ok"] and results[second]["state"] == "stopping"
    assert not results[guarded]["ok"] and results[guarded]["result"] == "refused"
    assert trio.protect in results[guarded]["message"]
    assert state(trio.ec2, guarded) == "running"
    for iid, result in ((first, "stopped"), (second, "stopped"), (guarded, "refused")):
        audit = user.client.get("/api/audit", params={"instance_id": iid}).json()["items"]
        assert [(a["action"], a["result"], a["actor"]) for a in audit] == [
            ("stop", result, user.email)
        ]
    listed = user.client.get("/api/instances", params={"state": "stopping"}).json()
    assert sorted(i["instance_id"] for i in listed["items"]) == sorted([first, second])

    marked = bulk(user, "not-idle", [guarded]).json()
    assert (marked["done"], marked["stopped"]) == (1, 0)
    assert marked["results"][0]["result"] == "recorded" and marked["results"][0]["ok"]
    assert user.client.get(f"/api/instances/{guarded}").json()["status"] == "active"
