"""Regenerate ``data/waste_prices.csv`` from the AWS Price List API (``pricing:GetProducts``).

``spendsense prices waste --from-aws`` asks, for each region and item of the price file, the
Price List API's products matching the item's attributes, and keeps the on-demand USD price
of the one whose usage type ends as the item's does. It needs real AWS credentials (the
Price List API is served from us-east-1; no test runs it); the parsing is tested on a
recorded sample of the documented format.

>>> doc = {"product": {"attributes": {"usagetype": "EUW1-NatGateway-Hours"}},
...        "terms": {"OnDemand": {"S.T": {"priceDimensions": {"S.T.R": {
...            "unit": "Hrs", "pricePerUnit": {"USD": "0.0480000000"}}}}}}}
>>> parse_product(json.dumps(doc))
('EUW1-NatGateway-Hours', 'Hrs', 0.048)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from spendsense.resources.prices import PriceRow

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
VOLUME_TYPES = ("gp3", "gp2", "io1", "io2", "st1", "sc1")
DB_CLASSES = tuple(
    f"db.{c}"
    for c in (
        "t3.micro", "t3.small", "t3.medium", "t3.large",
        "t4g.micro", "t4g.small", "t4g.medium", "t4g.large",
        "m5.large", "m5.xlarge", "m6g.large", "m6g.xlarge", "r5.large", "r5.xlarge",
    )
)  # fmt: skip
DB_ENGINES = {"mysql": "MySQL", "postgres": "PostgreSQL"}
SOURCE = "AWS Price List API (pricing:GetProducts, on-demand)"


@dataclass(frozen=True)
class PriceQuery:
    """One item of the price file as the Price List API finds it in a region."""

    item: str
    service: str
    attributes: tuple[tuple[str, str], ...]
    usage_suffix: str = ""
    """The product's ``usagetype`` must end with this (the region prefix varies)."""

    def filters(self, region: str) -> list[dict[str, str]]:
        pairs = [*self.attributes, ("regionCode", region)]
        return [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in pairs]


def queries() -> Iterator[PriceQuery]:
    """Every item of the price file."""
    for volume_type in VOLUME_TYPES:
        yield PriceQuery(
            f"ebs:{volume_type}",
            "AmazonEC2",
            (("productFamily", "Storage"), ("volumeApiName", volume_type)),
            "EBS:VolumeUsage" + ("" if volume_type == "gp2" else f".{volume_type}"),
        )
    yield PriceQuery(
        "ebs-snapshot", "AmazonEC2", (("productFamily", "Storage Snapshot"),), "EBS:SnapshotUsage"
    )
    yield PriceQuery(
        "public-ipv4",
        "AmazonVPC",
        (("productFamily", "VPC Public IPv4 Address"),),
        "PublicIPv4:IdleAddress",
    )
    yield PriceQuery(
        "nat-gateway", "AmazonEC2", (("productFamily", "NAT Gateway"),), "NatGateway-Hours"
    )
    for kind, family in (("application", "Application"), ("network", "Network")):
        yield PriceQuery(
            f"load-balancer:{kind}",
            "AWSELB",
            (("productFamily", f"Load Balancer-{family}"),),
            "LoadBalancerUsage",
        )
    for db_class in DB_CLASSES:
        for engine, name in DB_ENGINES.items():
            yield PriceQuery(
                f"rds:{db_class}:{engine}",
                "AmazonRDS",
                (
                    ("productFamily", "Database Instance"),
                    ("instanceType", db_class),
                    ("databaseEngine", name),
                    ("deploymentOption", "Single-AZ"),
                ),
                "InstanceUsage:" + db_class,
            )


def parse_product(document: str) -> tuple[str, str, float]:
    """One Price List product (a JSON string): its usage type, on-demand unit and USD price."""
    product: dict[str, Any] = json.loads(document)
    usage = str(product["product"]["attributes"].get("usagetype", ""))
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term["priceDimensions"].values():
            usd = float(dimension["pricePerUnit"].get("USD", 0))
            if usd > 0:
                return usage, str(dimension["unit"]), usd
    raise ValueError(f"product {usage or '?'} has no on-demand USD price")


def pick(documents: list[str], query: PriceQuery, region: str, today: date) -> PriceRow | None:
    """The price row of the first product whose usage type ends as the query's does."""
    for document in documents:
        usage, unit, usd = parse_product(document)
        if usage.endswith(query.usage_suffix):
            unit = "GB-Mo" if unit.lower().startswith("gb") else "Hrs"
            return PriceRow(region, query.item, unit, usd, SOURCE, today.isoformat())
    return None


def fetch(pricing: Any, today: date, regions: tuple[str, ...] = REGIONS) -> list[PriceRow]:
    """Every region's items from the Price List API (``pricing``: a boto3 ``pricing`` client).
    Fails with the items it could not find rather than writing a partial file."""
    rows, missing = [], []
    for region in regions:
        for query in queries():
            pages = pricing.get_paginator("get_products").paginate(
                ServiceCode=query.service, Filters=query.filters(region)
            )
            documents = [d for page in pages for d in page["PriceList"]]
            row = pick(documents, query, region, today)
            if row is None:
                missing.append(f"{region} {query.item}")
            else:
                rows.append(row)
    if missing:
        raise ValueError(f"the Price List API has no price for: {', '.join(missing)}")
    return rows
