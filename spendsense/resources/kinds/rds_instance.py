"""RDS instances: no connections (``DatabaseConnections``) for longer than their history
explains. The action is stop; AWS starts a stopped instance again by itself after 7 days.

Priced per instance hour of its class and engine (MySQL, PostgreSQL), single-AZ; Multi-AZ
twice that; storage is not priced (it is paid while stopped too).

>>> facts = Facts("rds-instance", "reports", "us-east-1", state="available",
...               details={"instance_class": "db.t3.micro", "engine": "postgres",
...                        "multi_az": False})
>>> RdsInstance.monthly_price(facts, PriceBook.load())
13.14
>>> engine_family("aurora-mysql") is None
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spendsense.resources.activity import History, RestAllowance, judge_activity
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import (
    OK,
    ClientFactory,
    Facts,
    Metric,
    ResourceKindPlugin,
    SafeAction,
    Verdict,
    WasteRules,
    aware,
    register,
    tags_of,
)

ENGINES = {"mysql": "mysql", "postgres": "postgres"}


def engine_family(engine: str) -> str | None:
    """The price file's engine name for an RDS engine (None: not priced)."""
    return ENGINES.get(engine)


@register("rds-instance")
class RdsInstance(ResourceKindPlugin):
    """An RDS DB instance, keyed by its ARN (``DBInstanceArn``): AWS makes its identifier
    unique only within one account and region."""

    permissions = ("rds:DescribeDBInstances", "cloudwatch:GetMetricData")
    # a monitoring agent keeps a connection or two: a connection more than the database's
    # own rest level is use, and so are three at once, whatever that level
    metrics = (Metric("AWS/RDS", "DatabaseConnections", "Maximum", RestAllowance(0.5, 1, 2)),)
    actions = (SafeAction("stop", ("rds:StopDBInstance",), ("db",)),)

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        pages = client("rds").get_paginator("describe_db_instances").paginate()
        return [_facts(db, region) for page in pages for db in page["DBInstances"]]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        family = engine_family(facts.details.get("engine", ""))
        if family is None:
            return None
        item = f"rds:{facts.details.get('instance_class')}:{family}"
        price = prices.monthly(facts.region, item)
        if price is None:
            return None
        return round(price * (2 if facts.details.get("multi_az") else 1), 4)

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if facts.state != "available":
            return OK
        return judge_activity("connections", history, now, rules)


def _facts(db: dict[str, Any], region: str) -> Facts:
    tags = tags_of(db, "TagList")
    ident = db["DBInstanceIdentifier"]
    return Facts(
        kind="rds-instance",
        resource_id=db["DBInstanceArn"],
        region=region,
        state=db.get("DBInstanceStatus", ""),
        name=tags.get("Name", ident),
        tags=tags,
        details={
            "instance_class": db.get("DBInstanceClass"),
            "engine": db.get("Engine"),
            "multi_az": bool(db.get("MultiAZ")),
            "restarts_after_days": 7,
        },
        created_at=aware(db.get("InstanceCreateTime")),
        dimensions=(("DBInstanceIdentifier", ident),),
    )
