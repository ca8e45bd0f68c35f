"""Hourly EC2 on-demand prices from the table kept beside this module (source in ec2_prices.md).

>>> hourly_price("m5.large")
0.096
>>> hourly_price("x9.unknown") is None
True
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

PRICE_TABLE = Path(__file__).resolve().parent / "data" / "ec2_prices.csv"


@lru_cache(maxsize=1)
def price_table() -> dict[str, float]:
    """instance type → USD per hour (Linux, us-east-1)."""
    with PRICE_TABLE.open(newline="") as fh:
        return {row["instance_type"]: float(row["usd_per_hour"]) for row in csv.DictReader(fh)}


def hourly_price(instance_type: str) -> float | None:
    """The on-demand hourly price of ``instance_type``; None when the table lacks it."""
    return price_table().get(instance_type)
