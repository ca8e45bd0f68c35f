"""NAT gateways: no traffic (``BytesOutToDestination``, ``ActiveConnectionCount``) for longer
than their history explains (:mod:`spendsense.resources.activity`). Data processed is priced
per GB on top of the hourly price, but an idle gateway processes none: its waste is the hour.

>>> facts = Facts("nat-gateway", "nat-1", "eu-west-1", state="available")
>>> round(NatGateway.monthly_price(facts, PriceBook.load()), 2)
35.04
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

LIVE_STATES = ("pending", "available")


@register("nat-gateway")
class NatGateway(ResourceKindPlugin):
    """A NAT gateway (deleted and failed ones are gone)."""

    permissions = ("ec2:DescribeNatGateways", "cloudwatch:GetMetricData")
    metrics = (
        # the agents of idle instances behind it (SSM, CloudWatch, updates) keep some MB a
        # day and a few long-polled connections: that is rest, not use
        Metric("AWS/NATGateway", "BytesOutToDestination", "Sum", RestAllowance(10e6, 3, 60e6)),
        Metric("AWS/NATGateway", "ActiveConnectionCount", "Maximum", RestAllowance(3, 3, 10)),
    )
    actions = (
        SafeAction("tag-and-notify", ("ec2:CreateTags",), ("natgateway",)),
        SafeAction("delete", ("ec2:DeleteNatGateway",), ("natgateway",), confirm=True),
    )

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        pages = client("ec2").get_paginator("describe_nat_gateways").paginate()
        return [
            _facts(g, region)
            for page in pages
            for g in page["NatGateways"]
            if g.get("State") in LIVE_STATES
        ]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        return prices.monthly(facts.region, "nat-gateway")

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if facts.state != "available":
            return OK
        return judge_activity("traffic", history, now, rules)


def _facts(gateway: dict[str, Any], region: str) -> Facts:
    tags = tags_of(gateway)
    gid = gateway["NatGatewayId"]
    return Facts(
        kind="nat-gateway",
        resource_id=gid,
        region=region,
        state=gateway.get("State", ""),
        name=tags.get("Name", ""),
        tags=tags,
        details={
            "vpc_id": gateway.get("VpcId"),
            "subnet_id": gateway.get("SubnetId"),
            "connectivity": gateway.get("ConnectivityType", "public"),
        },
        created_at=aware(gateway.get("CreateTime")),
        dimensions=(("NatGatewayId", gid),),
    )
