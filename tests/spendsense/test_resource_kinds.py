"""The resource kinds: registered with what they need, judged by their rules (near misses
left alone), priced in every region, and granted by the customer role exactly as declared."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.customer_permissions import declared
from sandbox.iam_policy import Decision, Request, evaluate
from spendsense.customer_role import RESOURCE_ARNS, RoleSetup
from spendsense.events import RESOURCE_KINDS
from spendsense.resources.activity import History, RestAllowance, history_from, lookback_start
from spendsense.resources.price_list import SOURCE, fetch, parse_product, pick, queries
from spendsense.resources.prices import PRICE_FILE, PriceBook, PriceRow, read_rows
from spendsense.resources.registry import (
    Facts,
    ResourceKindPlugin,
    WasteRules,
    action_permissions,
    load_kinds,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
RULES = WasteRules()
KINDS = load_kinds()
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]+$")
CUSTOMER = "111111111111"
SETUP = RoleSetup(vendor_account_id="210987654321", external_id="x", permissions=declared())
POLICIES = [SETUP.read_only_policy(), SETUP.stop_policy(CUSTOMER), SETUP.waste_policy(CUSTOMER)]
PROTECTED = {"aws:ResourceTag/spendsense:protect": "yes"}
ACTIONS = {
    "ebs-volume": ["snapshot-then-delete"],
    "elastic-ip": ["release"],
    "nat-gateway": ["tag-and-notify", "delete"],
    "load-balancer": ["tag-and-notify", "delete"],
    "rds-instance": ["stop"],
    "ebs-snapshot": ["delete"],
}


def kind(name: str) -> type[ResourceKindPlugin]:
    return KINDS[name]


def days(flags: list[bool]) -> History:
    """A history of ``len(flags)`` days ending today."""
    return History(lookback_start(NOW, len(flags)), tuple(flags))


def active_on(n: int, when: list[int]) -> History:
    return days([d in when for d in range(n)])


# --- the registry -------------------------------------------------------------------------


def test_every_kind_of_the_waste_contract_is_registered_with_what_it_needs() -> None:
    assert sorted(KINDS) == sorted(RESOURCE_KINDS)
    for name, cls in KINDS.items():
        assert cls.name == name
        assert cls.permissions and all(READ_ONLY.match(p) for p in cls.permissions), name
        assert [a.name for a in cls.actions] == ACTIONS[name]
        for action in cls.actions:
            assert action.permissions and set(action.resources) <= set(RESOURCE_ARNS)
        if cls.metrics:
            assert "cloudwatch:GetMetricData" in cls.permissions
    metric_kinds = sorted(n for n, c in KINDS.items() if c.metrics)
    assert metric_kinds == ["load-balancer", "nat-gateway", "rds-instance"]
    confirm = sorted((n, a.name) for n, c in KINDS.items() for a in c.actions if a.confirm)
    assert confirm == [
        ("elastic-ip", "release"),
        ("load-balancer", "delete"),
        ("nat-gateway", "delete"),
    ]


# --- the customer role --------------------------------------------------------------------


def _decide(action: str, resource: str, **context: str | list[str]) -> Decision:
    return evaluate(POLICIES, Request(action, resource, context))


def _arn(resource_type: str, account: str = CUSTOMER) -> str:
    return RESOURCE_ARNS[resource_type].format(partition="aws", account=account).replace("*", "x")


def test_the_role_reads_every_kind() -> None:
    reads = set(SETUP.read_only_actions())
    for _, cls in KINDS.items():
        assert set(cls.permissions) <= reads
        for p in cls.permissions:
            assert _decide(p, "*") == "allow"


def test_the_waste_policy_allows_exactly_the_declared_actions_with_the_stop_rails() -> None:
    declared_actions = {a for a, _ in action_permissions()}
    granted = {
        a
        for s in SETUP.waste_policy(CUSTOMER)["Statement"]
        if s["Effect"] == "Allow"
        for a in s["Action"]
    }
    # reads the read-only policy grants already are not repeated
    assert granted == declared_actions - set(SETUP.read_only_actions())
    tags = ["spendsense:notified"]
    for action, resource_type in action_permissions():
        if READ_ONLY.match(action):
            continue
        arn = _arn(resource_type)
        context: dict[str, str | list[str]] = {"aws:TagKeys": tags}
        assert _decide(action, arn, **context) == "allow", (action, arn)
        if resource_type != "snapshot":  # snapshot ARNs carry no account
            assert _decide(action, _arn(resource_type, "222222222222"), **context) != "allow"
        if action.endswith(("CreateTags", "AddTags")):
            assert _decide(action, arn, **{"aws:TagKeys": ["Name"]}) == "implicit-deny"
        else:
            assert _decide(action, arn, **PROTECTED) == "deny", (action, arn)


def test_the_waste_policy_grants_nothing_else() -> None:
    volume = _arn("volume")
    assert _decide("ec2:DeleteVolume", _arn("instance")) == "implicit-deny"
    assert _decide("ec2:ReleaseAddress", volume) == "implicit-deny"
    for action in ("ec2:DetachVolume", "rds:DeleteDBInstance", "ec2:DisassociateAddress"):
        assert _decide(action, "*") == "implicit-deny"
    assert evaluate(POLICIES[:2], Request("ec2:DeleteVolume", volume)) == "implicit-deny"


def test_the_committed_templates_carry_the_waste_policy() -> None:
    module = (ROOT / "deploy/terraform/modules/customer-role/main.tf").read_text()
    for statement in SETUP.waste_policy(CUSTOMER)["Statement"]:
        actions = ", ".join(f'"{a}"' for a in statement["Action"])
        assert re.search(rf"Action\s*=\s*\[{re.escape(actions)}\]", module), statement["Sid"]


# --- the rules ----------------------------------------------------------------------------


def test_an_unattached_volume_is_waste_after_its_grace_only() -> None:
    volume = Facts(
        "ebs-volume",
        "vol-1",
        "us-east-1",
        state="available",
        details={"size_gb": 500, "volume_type": "gp3"},
    )
    maintenance = kind("ebs-volume").judge(
        replace(volume, state_since=NOW - timedelta(hours=3)), None, NOW, RULES
    )
    assert (maintenance.waste, maintenance.provisional) == (False, True)
    left = kind("ebs-volume").judge(
        replace(volume, state_since=NOW - timedelta(days=3)), None, NOW, RULES
    )
    assert left.waste and left.since == NOW - timedelta(days=3)
    assert kind("ebs-volume").monthly_price(volume, PriceBook.load()) == 40.0


@pytest.mark.parametrize(("stopped_days", "waste"), [(3, False), (6.9, False), (10, True)])
def test_a_volume_of_an_instance_stopped_longer_than_n_days_is_waste(
    stopped_days: float, waste: bool
) -> None:
    facts = Facts(
        "ebs-volume",
        "vol-2",
        "us-east-1",
        state="in-use",
        details={
            "attached_to": "i-1",
            "instance_state": "stopped",
            "size_gb": 8,
            "volume_type": "gp2",
            "stopped_at": NOW - timedelta(days=stopped_days),
        },
    )
    assert kind("ebs-volume").judge(facts, None, NOW, RULES).waste is waste
    running = Facts(
        "ebs-volume",
        "vol-3",
        "us-east-1",
        state="in-use",
        details={"attached_to": "i-2", "instance_state": "running"},
    )
    assert not kind("ebs-volume").judge(running, None, NOW, RULES).waste


def test_an_elastic_ip_is_waste_an_hour_after_it_was_unassociated() -> None:
    eip = kind("elastic-ip")
    free = Facts(
        "elastic-ip",
        "eipalloc-1",
        "us-east-1",
        state="unassociated",
        tags={"spendsense:protect": "true"},
    )
    soon = eip.judge(replace(free, state_since=NOW - timedelta(minutes=40)), None, NOW, RULES)
    late = eip.judge(replace(free, state_since=NOW - timedelta(hours=2)), None, NOW, RULES)
    assert (soon.waste, soon.provisional, late.waste) == (False, True, True)
    used = Facts("elastic-ip", "eipalloc-2", "us-east-1", state="associated")
    assert eip.judge(used, None, NOW, RULES) == eip.judge(
        used, None, NOW + timedelta(days=90), RULES
    )
    assert not eip.judge(used, None, NOW, RULES).waste


def test_an_orphaned_snapshot_is_waste_after_its_retention() -> None:
    snap = kind("ebs-snapshot")
    base: dict[str, Any] = {
        "kind": "ebs-snapshot",
        "resource_id": "snap-1",
        "region": "eu-west-1",
        "state": "completed",
    }
    orphan = {"volume_exists": False, "ami_ids": [], "size_gb": 100}
    old = NOW - timedelta(days=45)
    assert snap.judge(Facts(**base, details=orphan, created_at=old), None, NOW, RULES).waste
    young = snap.judge(
        Facts(**base, details=orphan, created_at=NOW - timedelta(days=5)), None, NOW, RULES
    )
    assert young.provisional and not young.waste
    for details in ({**orphan, "volume_exists": True}, {**orphan, "ami_ids": ["ami-1"]}):
        assert not snap.judge(
            Facts(**base, details=details, created_at=old), None, NOW, RULES
        ).waste
    backup = Facts(**base, details=orphan, created_at=old, tags={"spendsense:backup-of": "vol-1"})
    assert not snap.judge(backup, None, NOW, RULES).waste
    # a CopySnapshot copy (disaster recovery) names a volume that never existed, and AWS
    # Backup's recovery points are its plan's to keep: neither is an orphan
    copy = Facts(**base, details={**orphan, "volume_id": "vol-ffffffff"}, created_at=old)
    managed = Facts(
        **base, details=orphan, created_at=old, tags={"aws:backup:source-resource": "x"}
    )
    assert not snap.judge(copy, None, NOW, RULES).waste
    assert not snap.judge(managed, None, NOW, RULES).waste
    assert snap.monthly_price(Facts(**base, details=orphan), PriceBook.load()) == 5.0


def _metric(name: str, **details: object) -> Facts:
    state = {"nat-gateway": "available", "load-balancer": "active", "rds-instance": "available"}
    return Facts(name, f"{name}-1", "us-east-1", state=state[name], details=dict(details))


MONTH_ENDS = [d for d in range(63) if (lookback_start(NOW, 63) + timedelta(days=d)).day == 1]


@pytest.mark.parametrize(
    ("name", "history", "details"),
    [
        ("nat-gateway", active_on(63, MONTH_ENDS), {}),  # busy only at month end
        ("load-balancer", active_on(63, list(range(2, 63, 7))), {"type": "application"}),  # weekly
        ("rds-instance", active_on(63, list(range(63))), {}),  # a nightly report
        ("nat-gateway", active_on(63, [*range(40), 61]), {}),  # two quiet weeks, then back
    ],
    ids=["month-end-nat", "weekly-lb", "nightly-db", "back-after-a-gap"],
)
def test_a_metric_kind_used_as_its_history_explains_is_never_flagged(
    name: str, history: History, details: dict[str, object]
) -> None:
    assert MONTH_ENDS  # the lookback spans at least two month starts
    for hours in range(0, 24 * 6, 6):  # through the days after the last use too
        verdict = kind(name).judge(
            _metric(name, **details), history, NOW + timedelta(hours=hours), RULES
        )
        assert not verdict.waste and not verdict.provisional, (hours, verdict)


@pytest.mark.parametrize("name", ["nat-gateway", "load-balancer", "rds-instance"])
def test_a_metric_kind_quiet_longer_than_its_history_explains_is_waste(name: str) -> None:
    facts = _metric(name, type="network")
    gone_quiet = active_on(63, [d for d in range(63) if d < 40 and d % 7 == 0])
    verdict = kind(name).judge(facts, gone_quiet, NOW, RULES)
    assert verdict.waste and verdict.since == gone_quiet.start + timedelta(days=36)
    # no alert from a half-seen history: ten days, all quiet, is only provisional
    verdict = kind(name).judge(facts, days([False] * 10), NOW, RULES)
    assert verdict.provisional and not verdict.waste


# --- rest levels: idle resources are not silent -------------------------------------------

REST: dict[str, dict[str, float]] = {
    # the background each keeps with nobody using it, per day (sums) or at most (maximums)
    "nat-gateway": {"BytesOutToDestination": 30e6, "ActiveConnectionCount": 4},
    "load-balancer": {"RequestCount": 180, "ProcessedBytes": 180 * 600},
    "rds-instance": {"DatabaseConnections": 1},
}
USE: dict[str, dict[str, float]] = {
    # a light day of real use: a job's worth, far under what a busy one does
    "nat-gateway": {"BytesOutToDestination": 150e6, "ActiveConnectionCount": 12},
    "load-balancer": {"RequestCount": 400, "ProcessedBytes": 400 * 8e3},
    "rds-instance": {"DatabaseConnections": 1},
}
SUM_JITTER = [0.7, 1.0, 1.3, 0.9, 1.1, 1.2, 0.8]
"""Day to day, a background's sum moves; a count of connections held moves only when there
are several (a pool of four now and then holds eight for a moment)."""


def measured(
    name: str,
    used_on: set[int],
    clean: bool = False,
    n: int = 63,
    rest: dict[str, float] | None = None,
    use: dict[str, float] | None = None,
) -> History:
    """``n`` days of the kind's metrics as CloudWatch returns them: each day's background
    (``REST``, jittered), plus a day of use (``USE``) on ``used_on``; judged with the kind's
    rest allowances, or with the clean floor (any non-zero day is use) when ``clean``."""
    plugin = kind(name)
    start = lookback_start(NOW, n)
    series = []
    for metric in plugin.metrics_of(_metric(name, type="application")):
        base = (rest or REST[name])[metric.name]
        extra = (use or USE[name])[metric.name]
        pool = [1, 1, 1, 1, 1, 2 if base > 1 else 1, 1]
        jitter = SUM_JITTER if metric.stat == "Sum" else pool
        points = [
            (start + d * timedelta(days=1), base * jitter[d % 7] + (extra if d in used_on else 0))
            for d in range(n)
        ]
        series.append((RestAllowance() if clean else metric.rest, metric.stat, points))
    return history_from(series, start, NOW, None)


@pytest.mark.parametrize("name", ["nat-gateway", "load-balancer", "rds-instance"])
def test_an_abandoned_resource_that_still_hums_is_found_at_its_own_rest_level(name: str) -> None:
    facts = _metric(name, type="application")
    weekly_then_gone = {d for d in range(40) if d % 7 == 0}
    verdict = kind(name).judge(facts, measured(name, weekly_then_gone), NOW, RULES)
    assert verdict.waste and verdict.hums, verdict
    assert "above its rest level" in verdict.reason
    assert verdict.since == lookback_start(NOW, 63) + timedelta(days=36)
    # the control: with the clean floor its agents or scanners pass for use, every day
    clean = kind(name).judge(facts, measured(name, weekly_then_gone, clean=True), NOW, RULES)
    assert not clean.waste and not clean.provisional


MONTH_FIRSTS = {d for d in range(63) if (lookback_start(NOW, 63) + timedelta(days=d)).day == 1}


WEEKLY = {d for d in range(63) if d % 7 == 2}
DAILY = set(range(63))


@pytest.mark.parametrize(
    ("name", "used_on"),
    [
        (name, used_on)
        for name in ("nat-gateway", "load-balancer", "rds-instance")
        for used_on in (WEEKLY, DAILY, MONTH_FIRSTS)
        # an agent's connection plus a nightly report's every day is a steady pool of two:
        # test_a_steady_connection_looks_like_an_agent_and_is_left_to_a_person
        if (name, used_on) != ("rds-instance", DAILY)
    ],
)
def test_light_real_use_over_the_background_is_use(name: str, used_on: set[int]) -> None:
    facts = _metric(name, type="application")
    for hours in range(0, 24 * 6, 12):
        verdict = kind(name).judge(
            facts, measured(name, used_on), NOW + timedelta(hours=hours), RULES
        )
        assert not verdict.waste and not verdict.provisional, verdict


@pytest.mark.parametrize(
    ("name", "steady"),
    [
        ("rds-instance", {"DatabaseConnections": 3}),  # a small app's pool, every day
        ("nat-gateway", {"BytesOutToDestination": 100e6, "ActiveConnectionCount": 4}),
        ("load-balancer", {"RequestCount": 500, "ProcessedBytes": 500 * 600}),  # a Lambda's
    ],
    ids=["db-pool-of-3", "nat-100-mb-a-day", "alb-500-requests-a-day"],
)
def test_steady_use_over_a_believable_background_is_never_rest(
    name: str, steady: dict[str, float]
) -> None:
    """A floor learnt from steady use is still use: the ceiling is the most background a
    resting resource shows, whatever its own floor."""
    history = measured(name, set(), rest=steady)
    assert all(history.active[:-1])
    assert not kind(name).judge(_metric(name, type="application"), history, NOW, RULES).waste


def test_a_silent_database_s_one_connection_a_week_is_use() -> None:
    """No background to allow for: any connection is use (the clean floor)."""
    silent = {"DatabaseConnections": 0.0}
    history = measured("rds-instance", {d for d in range(63) if d % 7 == 3}, rest=silent)
    verdict = kind("rds-instance").judge(_metric("rds-instance"), history, NOW, RULES)
    assert not verdict.waste and not verdict.provisional and not history.at_rest_level


def test_a_steady_connection_looks_like_an_agent_and_is_left_to_a_person() -> None:
    """The limit of a daily maximum: one connection held every day is a monitoring agent's or
    a small report's, and an agent's plus a nightly report's one every day is a pool of two.
    Either is found, says it hums, and is left to a person (no policy acts on it)."""
    for used_on in (set(), set(range(63))):
        history = measured("rds-instance", used_on)
        verdict = kind("rds-instance").judge(_metric("rds-instance"), history, NOW, RULES)
        assert verdict.waste and verdict.hums and "above its rest level" in verdict.reason


def test_the_history_starts_at_the_first_datapoint_and_keeps_a_day_s_maximum() -> None:
    start = lookback_start(NOW, 63)
    day = timedelta(days=1)
    (metric,) = kind("rds-instance").metrics
    late = [(start + d * day, 1.0) for d in range(40, 63)]  # CloudWatch has 23 days of it
    history = history_from([(metric.rest, metric.stat, late)], start, NOW, None)
    assert history.start == start + 40 * day and history.days == 23
    # two points in one day of a Maximum metric: the higher counts, they do not add up
    twice = [*late, (start + 50 * day + timedelta(hours=6), 1.0)]
    again = history_from([(metric.rest, metric.stat, twice)], start, NOW, None)
    assert again.active == history.active and not any(again.active)
    # no datapoint at all: the whole span, silent
    none = history_from([(metric.rest, metric.stat, [])], start, NOW, None)
    assert none.days == 63 and not any(none.active) and not none.at_rest_level


def test_a_quiet_balancer_with_healthy_targets_and_a_stopped_database_are_left_alone() -> None:
    quiet = days([False] * 63)
    lb = _metric("load-balancer", type="application", healthy_targets=2)
    assert not kind("load-balancer").judge(lb, quiet, NOW, RULES).waste
    db = Facts("rds-instance", "db", "us-east-1", state="stopped")
    assert not kind("rds-instance").judge(db, quiet, NOW, RULES).waste


# --- prices -------------------------------------------------------------------------------

REGIONS = ["ap-southeast-1", "eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]
TYPICAL = (
    [
        Facts("ebs-volume", "v", "", details={"size_gb": 100, "volume_type": t})
        for t in ("gp3", "gp2", "io1", "io2", "st1", "sc1")
    ]
    + [
        Facts("elastic-ip", "e", ""),
        Facts("nat-gateway", "n", ""),
        Facts("load-balancer", "a", "", details={"type": "application"}),
        Facts("load-balancer", "n", "", details={"type": "network"}),
        Facts("ebs-snapshot", "s", "", details={"size_gb": 100}),
    ]
    + [
        Facts("rds-instance", "r", "", details={"instance_class": c, "engine": e})
        for c in ("db.t3.micro", "db.t4g.medium", "db.m5.large", "db.m6g.large", "db.r5.large")
        for e in ("mysql", "postgres")
    ]
)


def test_every_kind_is_priced_in_every_region() -> None:
    book = PriceBook.load()
    assert book.regions() == REGIONS
    for region in REGIONS:
        for facts in TYPICAL:
            price = kind(facts.kind).monthly_price(replace(facts, region=region), book)
            assert price is not None and price > 0, (region, facts)
    row = book.row("us-east-1", "nat-gateway")
    assert row is not None and row.source and row.date
    assert book.monthly("us-east-1", "nat-gateway") == pytest.approx(row.usd * 730)
    assert book.monthly("eu-west-1", "ebs:gp3", 100) != book.monthly("us-east-1", "ebs:gp3", 100)
    multi = Facts(
        "rds-instance",
        "r",
        "us-east-1",
        details={"instance_class": "db.m5.large", "engine": "mysql", "multi_az": True},
    )
    single = replace(multi, details={**multi.details, "multi_az": False})
    assert kind("rds-instance").monthly_price(multi, book) == 2 * (
        kind("rds-instance").monthly_price(single, book) or 0
    )


# --- the Price List API's answer, parsed (a sample in its documented format) -------------


def _product(usage: str, unit: str, usd: str, **attributes: str) -> str:
    return json.dumps(
        {
            "product": {"productFamily": "x", "attributes": {"usagetype": usage, **attributes}},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "SKU1.JRTCKXETXF": {
                        "priceDimensions": {
                            "SKU1.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "pricePerUnit": {"USD": usd},
                                "description": "sample",
                            }
                        },
                        "sku": "SKU1",
                    }
                }
            },
        }
    )


class RecordedPricing:
    """The Price List API's answers for eu-west-1's NAT gateway and gp3 volumes, as recorded."""

    ANSWERS = {
        "nat-gateway": [
            _product("EUW1-NatGateway-Bytes", "GB", "0.0480000000"),
            _product("EUW1-NatGateway-Hours", "Hrs", "0.0480000000"),
        ],
        "ebs:gp3": [_product("EUW1-EBS:VolumeUsage.gp3", "GB-Mo", "0.0880000000")],
    }

    def get_paginator(self, name: str) -> RecordedPricing:
        assert name == "get_products"
        return self

    def paginate(self, ServiceCode: str, Filters: list[dict[str, str]]) -> list[dict[str, object]]:
        fields = {f["Field"]: f["Value"] for f in Filters}
        assert fields["regionCode"] == "eu-west-1"
        family = fields["productFamily"]
        key = "nat-gateway" if family == "NAT Gateway" else f"ebs:{fields.get('volumeApiName')}"
        return [{"PriceList": self.ANSWERS.get(key, [])}]


def test_the_price_list_answer_is_parsed_into_price_rows() -> None:
    today = date(2026, 12, 6)
    wanted = {q.item: q for q in queries()}
    pricing = RecordedPricing()
    nat = pick(
        pricing.paginate("AmazonEC2", wanted["nat-gateway"].filters("eu-west-1"))[0]["PriceList"],  # type: ignore[arg-type]
        wanted["nat-gateway"],
        "eu-west-1",
        today,
    )
    assert nat == PriceRow("eu-west-1", "nat-gateway", "Hrs", 0.048, SOURCE, "2026-12-06")
    assert parse_product(RecordedPricing.ANSWERS["ebs:gp3"][0]) == (
        "EUW1-EBS:VolumeUsage.gp3",
        "GB-Mo",
        0.088,
    )
    with pytest.raises(ValueError, match="no price for: eu-west-1 ebs:gp2"):
        fetch(pricing, today, regions=("eu-west-1",))
    # every item of the price file is asked for
    assert {q.item for q in queries()} == {r.item for r in read_rows(PRICE_FILE)}
