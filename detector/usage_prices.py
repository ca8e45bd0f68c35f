"""What a usage anomaly costs per hour, from the price tables beside this module
(``data/egress_prices.csv``, ``data/burstable_credits.csv``; sources and date in
``data/usage_prices.md``).

Only two changes of usage cost money by themselves: data sent out (at the region's per-GB
rate) and, on a burstable instance in unlimited mode, CPU above its baseline (surplus credits
at a price per vCPU-hour). Everything else says why it has no direct cost.

>>> cost = anomaly_cost("network_out_bytes", 1.2e9, 0.2e9, "us-east-1", "m5.large")
>>> cost.dollars_per_hour, cost.basis
(1.08, 'data transfer out at $0.09 per GB in us-east-1 (the internet rate; traffic inside AWS costs less)')
>>> anomaly_cost("cpu_percent", 95.0, 12.0, "us-east-1", "t3.micro").dollars_per_hour
0.083
>>> print(anomaly_cost("cpu_percent", 95.0, 12.0, "us-east-1", "m5.large").basis)
no direct cost: the instance costs the same busy or not; unexpected work may be a runaway process, or a compromise if nobody started it
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
POINTS_PER_HOUR = 12
"""5-minute points per hour (network values are bytes per point)."""


@dataclass(frozen=True)
class Burstable:
    """A burstable type's CPU credit terms."""

    vcpus: int
    baseline_percent: float
    usd_per_vcpu_hour: float
    default_mode: str


@dataclass(frozen=True)
class AnomalyCost:
    """Dollars per hour of an anomaly (``None``: no direct cost) and the basis, in words."""

    dollars_per_hour: float | None
    basis: str


@lru_cache(maxsize=1)
def egress_prices() -> dict[str, float]:
    """region -> USD per GB sent to the internet (first paid tier)."""
    with (DATA / "egress_prices.csv").open(newline="") as fh:
        return {row["region"]: float(row["usd_per_gb"]) for row in csv.DictReader(fh)}


@lru_cache(maxsize=1)
def burstable_types() -> dict[str, Burstable]:
    """instance type -> its CPU credit terms (burstable types only)."""
    with (DATA / "burstable_credits.csv").open(newline="") as fh:
        return {
            row["instance_type"]: Burstable(
                int(row["vcpus"]),
                float(row["baseline_percent"]),
                float(row["usd_per_vcpu_hour"]),
                row["default_mode"],
            )
            for row in csv.DictReader(fh)
        }


def _egress(observed: float, usual: float, region: str) -> AnomalyCost:
    price = egress_prices().get(region)
    if price is None:
        return AnomalyCost(None, f"no price: data transfer out of {region} is not in the table")
    gigabytes = max(observed - usual, 0.0) * POINTS_PER_HOUR / 1e9
    return AnomalyCost(
        round(gigabytes * price, 4),
        f"data transfer out at ${price:g} per GB in {region} "
        "(the internet rate; traffic inside AWS costs less)",
    )


def _credits(observed: float, usual: float, instance_type: str) -> AnomalyCost:
    terms = burstable_types().get(instance_type)
    if terms is None:
        return AnomalyCost(
            None,
            "no direct cost: the instance costs the same busy or not; unexpected work may be a "
            "runaway process, or a compromise if nobody started it",
        )
    if terms.default_mode != "unlimited":
        return AnomalyCost(
            None,
            f"no direct cost: a {instance_type} runs in standard credit mode by default, which "
            "throttles CPU at its baseline instead of billing it",
        )
    surplus = max(observed - max(terms.baseline_percent, usual), 0.0) / 100 * terms.vcpus
    return AnomalyCost(
        round(surplus * terms.usd_per_vcpu_hour, 4),
        f"CPU credits of a {instance_type} in unlimited mode (its default): "
        f"{terms.vcpus} vCPUs above a {terms.baseline_percent:g}% baseline at "
        f"${terms.usd_per_vcpu_hour:g} per vCPU-hour",
    )


def anomaly_cost(
    metric: str, observed: float, usual: float, region: str, instance_type: str
) -> AnomalyCost:
    """What a rise of ``metric`` from ``usual`` to ``observed`` costs per hour (network in
    bytes per 5-minute point, CPU in percent)."""
    if metric == "network_out_bytes":
        return _egress(observed, usual, region)
    if metric == "cpu_percent":
        return _credits(observed, usual, instance_type)
    return AnomalyCost(
        None, "no direct cost: data transfer in is free; a new inbound stream may be a compromise"
    )
