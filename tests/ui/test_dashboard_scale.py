"""The dashboard's instance list at scale, in headless Chromium (issue 20): search and
filters narrow it, the URL keeps the view (a link restores it; Back and Forward walk it),
pages are keyset pages, a bulk Stop goes through the rails row by row, and axe-core finds
no serious or critical accessibility violation.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI

from tests.api.conftest import connect, restart, seed_instance, sign_up, state
from tests.fixtures.sandbox import Sandbox
from tests.ui.conftest import accessibility_violations, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

ROW_IDS = "rows => rows.map(r => r.dataset.instanceId)"
ACCOUNTS = ("111111111111", "222222222222")


def showing(first: int, last: int, total: int) -> str:
    """The selector of the pager saying "first to last of total" (an en dash between)."""
    return f"#page-range:text-is('{first}\u2013{last} of {total}')"


def shown_ids(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#instances tbody tr", ROW_IDS))


def seed_fleet(app: FastAPI, tenant_id: str) -> list[dict[str, Any]]:
    """60 instances: web-00.. and db-00.., two accounts, a third of them idle (waste rising
    with the number), every fifth stopped; tagged by team."""
    fleet = []
    with app.state.spendsense.sessions() as db:
        for n in range(60):
            kind = "web" if n % 2 else "db"
            fact: dict[str, Any] = {
                "instance_id": f"i-{n:017x}",
                "name": f"{kind}-{n:02d}",
                "account_id": ACCOUNTS[0] if n % 3 else ACCOUNTS[1],
                "idle": n % 3 == 1,
                "state": "stopped" if n % 5 == 4 else "running",
                "waste": float(10 + n) if n % 3 == 1 else 0.0,
                "tags": {"Name": f"{kind}-{n:02d}", "team": kind},
            }
            fleet.append(fact)
            seed_instance(
                db,
                tenant_id,
                fact["instance_id"],
                account_id=fact["account_id"],
                idle=fact["idle"],
                state=fact["state"],
                waste=fact["waste"],
                name=fact["name"],
                tags=fact["tags"],
            )
    return fleet


def test_search_pages_and_the_url_keep_the_view(
    sandbox_app: FastAPI, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    user = sign_up(sandbox_app)
    fleet = seed_fleet(sandbox_app, user.tenant_id)
    with logged_in_page(sandbox_app, browser, user) as (page, base):
        page.goto(f"{base}/")
        page.wait_for_selector(showing(1, 50, 60))
        first = shown_ids(page)
        wasteful = max(fleet, key=lambda f: f["waste"] if f["state"] == "running" else 0)
        assert first[0] == wasteful["instance_id"]  # most waste a month first
        assert page.get_attribute("th[data-sort=waste]", "aria-sort") == "descending"
        assert accessibility_violations(page) == []

        # the next page (keyset): the other ten, none repeated; Back returns to the first
        page.click("#page-next")
        page.wait_for_selector(showing(51, 60, 60))
        second = shown_ids(page)
        assert len(second) == 10 and not set(second) & set(first)
        assert "cursor=" in page.url
        page.go_back()
        page.wait_for_selector(showing(1, 50, 60))
        assert shown_ids(page) == first

        # search narrows the list (debounced, kept in the URL)
        page.fill("#search", "db-1")
        page.wait_for_selector(showing(1, 5, 5))
        assert "q=db-1" in page.url
        names = page.eval_on_selector_all(
            "#instances tbody .detail-link", "a => a.map(x => x.textContent)"
        )
        assert sorted(names) == [f"db-{n}" for n in (10, 12, 14, 16, 18)]
        page.screenshot(path=str(artifacts / "ui-dashboard-search.png"), full_page=True)

        # a shared link: search, sort, order and filters restore the same rows and controls
        view = {
            "q": "web",
            "sort": "name",
            "order": "desc",
            "account": ACCOUNTS[0],
            "verdict": "idle",
            "tag": "team=web",
        }
        expected = sorted(
            (
                f
                for f in fleet
                if f["name"].startswith("web") and f["account_id"] == ACCOUNTS[0] and f["idle"]
            ),
            key=lambda f: f["name"],
            reverse=True,
        )
        assert len(expected) >= 3
        shared = browser.new_page(viewport={"width": 1280, "height": 900})
        shared.context.add_cookies(page.context.cookies())
        shared.goto(f"{base}/?{urlencode(view)}")
        shared.wait_for_selector(showing(1, len(expected), len(expected)))
        assert shown_ids(shared) == [f["instance_id"] for f in expected]
        controls = {
            "q": "#search",
            "sort": "#sort",
            "order": "#order",
            "account": "#filter-account",
            "verdict": "#filter-verdict",
            "tag": "#filter-tag",
        }
        assert {k: shared.input_value(sel) for k, sel in controls.items()} == view
        assert shared.get_attribute("th[data-sort=name]", "aria-sort") == "descending"
        assert shared.get_attribute("th[data-sort=waste]", "aria-sort") is None
        export = shared.get_attribute("#export-csv", "href")
        assert export.startswith("/api/instances.csv?") and "tag=team%3Dweb" in export

        # a change is a new history entry; Back restores the view it left, controls too
        shared.select_option("#sort", "waste")
        shared.wait_for_function("!location.search.includes('sort=name')")
        shared.wait_for_selector("th[data-sort=waste][aria-sort=descending]")
        shared.go_back()
        shared.wait_for_selector("th[data-sort=name][aria-sort=descending]")
        assert shared.input_value("#sort") == "name"
        assert shown_ids(shared) == [f["instance_id"] for f in expected]
        assert accessibility_violations(shared) == []
        shared.close()


def stoppable_three(ec2: Any, protect_tag: str) -> list[str]:
    """Three running EBS-backed on-demand instances outside any Auto Scaling group."""
    found = [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
        and i.get("RootDeviceType") == "ebs"
        and not i.get("InstanceLifecycle")
        and not {t["Key"] for t in i.get("Tags", [])} & {protect_tag, "aws:autoscaling:groupName"}
        and i["InstanceType"].split(".")[0] in {"t3", "m5", "c5", "r5"}
    ]
    assert len(found) >= 3, "the sandbox account has fewer than three stoppable instances"
    return found[:3]


def test_bulk_stop_of_three_stops_two_and_shows_why_the_protected_one_was_refused(
    sandbox_app: FastAPI, sandbox: Sandbox, browser: Any, ui_assets: Path, artifacts: Path
) -> None:
    services = sandbox_app.state.spendsense
    protect = services.settings.actions.protect_tag
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(user, sandbox, account_id)
    ids = stoppable_three(ec2, protect)
    guarded = ids[2]
    ec2.create_tags(Resources=[guarded], Tags=[{"Key": protect, "Value": "yes"}])
    wastes = (12.5, 30.0, 40.25)
    try:
        with services.sessions() as db:
            for iid, waste in zip(ids, wastes, strict=True):
                tags = {protect: "yes"} if iid == guarded else {}
                seed_instance(
                    db,
                    user.tenant_id,
                    iid,
                    account_id=account_id,
                    idle=True,
                    waste=waste,
                    name=f"batch-{uuid.uuid4().hex[:4]}",
                    tags=tags,
                )
        with logged_in_page(sandbox_app, browser, user) as (page, base):
            page.goto(f"{base}/")
            page.wait_for_selector(showing(1, 3, 3))
            # the keyboard reaches every row: Space ticks a box, the arrow keys move down
            page.focus("#instances tbody tr:first-child .row-select")
            for n in range(3):
                page.keyboard.press("Space")
                if n < 2:
                    page.keyboard.press("ArrowDown")
            page.wait_for_selector(f"#bulk-summary:text-is('3 selected · ${sum(wastes):.2f}/mo')")
            assert page.is_checked("#select-all")
            stop = page.get_attribute(
                f"tr[data-instance-id='{ids[0]}'] [data-action=stop]", "aria-label"
            )
            assert stop is not None and stop.startswith("Stop ") and ids[0] in stop

            page.click("#bulk-stop")
            page.wait_for_selector("#bulk-status:has-text('2 done, 1 refused')")
            refusal = page.inner_text(f"tr[data-instance-id='{guarded}'] .row-result")
            assert "Refused" in refusal and protect in refusal
            for iid in ids[:2]:
                page.wait_for_selector(f"tr[data-instance-id='{iid}'] .state:text-is('stopping')")
            assert page.inner_text(f"tr[data-instance-id='{guarded}'] .state") == "running"
            page.wait_for_selector("#bulk-summary:text-is('0 selected · $0.00/mo')")
            page.wait_for_selector(f"#audit li:has-text('{guarded}'):has-text('refused')")
            page.screenshot(path=str(artifacts / "ui-dashboard-bulk.png"), full_page=True)
            assert accessibility_violations(page) == []

        audit = user.client.get("/api/audit", params={"limit": 50}).json()["items"]
        stops = {a["instance_id"]: a["result"] for a in audit if a["action"] == "stop"}
        assert stops == {ids[0]: "stopped", ids[1]: "stopped", guarded: "refused"}
        assert [state(ec2, iid) in {"stopping", "stopped"} for iid in ids] == [True, True, False]
    finally:
        ec2.delete_tags(Resources=[guarded], Tags=[{"Key": protect}])
        for iid in ids[:2]:
            if state(ec2, iid) != "running":
                restart(ec2, iid)  # the session's sandbox is shared
