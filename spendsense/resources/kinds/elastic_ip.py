"""Elastic IP addresses: unassociated longer than a grace period (1 hour by default).

Every public IPv4 address costs $0.005 an hour since February 2024, attached or not; only an
unassociated one is waste. Public addresses EC2 assigns to an instance's network interface
are not listed: they exist only while their instance runs (a stop releases them), so they
are never unassociated, and their cost is the instance's.

>>> from datetime import UTC
>>> now = datetime(2026, 11, 20, 12, tzinfo=UTC)
>>> free = Facts("elastic-ip", "eipalloc-1", "us-east-1", state="unassociated",
...              state_since=now - timedelta(minutes=30))
>>> ElasticIp.judge(free, None, now, WasteRules()).provisional
True
>>> ElasticIp.monthly_price(free, PriceBook.load())
3.65
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from spendsense.resources.activity import History
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import (
    OK,
    ClientFactory,
    Facts,
    ResourceKindPlugin,
    SafeAction,
    Verdict,
    WasteRules,
    after_grace,
    register,
    tags_of,
)


@register("elastic-ip")
class ElasticIp(ResourceKindPlugin):
    """An Elastic IP address (VPC), keyed by its allocation id."""

    permissions = ("ec2:DescribeAddresses",)
    actions = (SafeAction("release", ("ec2:ReleaseAddress",), ("elastic-ip",), confirm=True),)

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        return [_facts(a, region) for a in client("ec2").describe_addresses()["Addresses"]]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        return prices.monthly(facts.region, "public-ipv4")

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if facts.state != "unassociated":
            return OK
        return after_grace(
            "unassociated", facts.state_since, timedelta(hours=rules.address_grace_h), now
        )


def _facts(address: dict[str, Any], region: str) -> Facts:
    tags = tags_of(address)
    associated = bool(address.get("AssociationId") or address.get("InstanceId"))
    return Facts(
        kind="elastic-ip",
        resource_id=address.get("AllocationId") or address["PublicIp"],
        region=region,
        state="associated" if associated else "unassociated",
        name=tags.get("Name", ""),
        tags=tags,
        details={
            "public_ip": address.get("PublicIp"),
            "instance_id": address.get("InstanceId"),
            "network_interface_id": address.get("NetworkInterfaceId"),
        },
    )
