"""What the fleet's resources cost a month, by region: the dollars their labels hold.

From the project's price file (:mod:`spendsense.resources.prices`: AWS's on-demand list
prices with their source and date), read here by the resources' own facts, so a label's
dollars are what the resource costs: a volume its GB at its type's price, a snapshot its GB,
an address, a NAT gateway or a load balancer their hours, a database its instance hours
(single-AZ; storage apart, as the issue sizes it). A month is 730 hours.

>>> monthly_usd("ebs-volume", "us-east-1", {"size_gb": 500, "volume_type": "gp3"})
40.0
>>> monthly_usd("nat-gateway", "us-east-1", {})
32.85
"""

from __future__ import annotations

from spendsense.errors import ConfigError
from spendsense.resources.prices import PriceBook


def price_item(kind: str, facts: dict[str, object]) -> tuple[str, float]:
    """The price file's item for a resource, and how many of it (GB, or 1).

    >>> price_item("rds-instance", {"instance_class": "db.t3.micro", "engine": "mysql"})
    ('rds:db.t3.micro:mysql', 1.0)
    """
    if kind == "ebs-volume":
        return f"ebs:{facts['volume_type']}", _number(facts, "size_gb")
    if kind == "ebs-snapshot":
        return "ebs-snapshot", _number(facts, "size_gb")
    if kind == "elastic-ip":
        return "public-ipv4", 1.0
    if kind == "load-balancer":
        return f"load-balancer:{facts.get('type', 'application')}", 1.0
    if kind == "rds-instance":
        return f"rds:{facts['instance_class']}:{facts['engine']}", 1.0
    return kind, 1.0


def monthly_usd(kind: str, region: str, facts: dict[str, object]) -> float:
    """The monthly price of a resource of ``kind`` with ``facts`` in ``region``."""
    item, quantity = price_item(kind, facts)
    usd = PriceBook.load().monthly(region, item, quantity)
    if usd is None:
        raise ConfigError(f"no price for {item} in {region} in the price file")
    return usd


def _number(facts: dict[str, object], key: str) -> float:
    value = facts[key]
    if not isinstance(value, int | float):
        raise ConfigError(f"resource fact {key} must be a number, got {value!r}")
    return float(value)
