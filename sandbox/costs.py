"""Cost Explorer's GetCostAndUsage computed from the fleet's instance types and running hours.

Per account and UTC day (sandbox time): EC2 compute is the on-demand hourly price of the
instance type (a third of it for spot) times the hours the instance ran; ``EC2 - Other``
is its 8 GiB gp3 root volume while it exists (stopped or not; none for instance-store
roots); ``AWS Data Transfer`` is its NetworkOut at $0.09/GB; ``AmazonCloudWatch`` is
$0.01 per 1,000 metrics requested through GetMetricData and ``AWS Cost Explorer``
$0.01 per call, both as the sandbox metered them.

>>> hourly_price("m5.large", "us-east-1", "on-demand")
0.096
>>> round(hourly_price("m5.large", "eu-west-1", "spot"), 4)
0.0352
>>> hourly_price("m5.24xlarge", "us-east-1", "on-demand")
4.608
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from sandbox.timeline import STEP_S, Timeline
from sandbox.wire import ApiError

COMPUTE = "Amazon Elastic Compute Cloud - Compute"
EBS = "EC2 - Other"
TRANSFER = "AWS Data Transfer"
CLOUDWATCH = "AmazonCloudWatch"
COST_EXPLORER = "AWS Cost Explorer"
GLOBAL_REGION = "global"

# us-east-1 on-demand Linux $/hour of the .large size; other sizes scale by vCPU.
_LARGE_PRICE = {
    "t2": 0.0928,
    "t3": 0.0832,
    "t3a": 0.0752,
    "t4g": 0.0672,
    "m5": 0.096,
    "m5a": 0.086,
    "m6i": 0.096,
    "m6g": 0.077,
    "m7i": 0.1008,
    "m7g": 0.0816,
    "c5": 0.085,
    "c6i": 0.085,
    "c6g": 0.068,
    "c7g": 0.0725,
    "r5": 0.126,
    "r6i": 0.126,
    "r6g": 0.1008,
    "i3": 0.156,
    "d2": 0.69,
    "g4dn": 0.376,
    "p3": 3.06,
}
_SIZE_FACTOR = {
    "nano": 0.0625,
    "micro": 0.125,
    "small": 0.25,
    "medium": 0.5,
    "large": 1.0,
    "xlarge": 2.0,
    "metal": 48.0,
}
_REGION_FACTOR = {
    "us-east-1": 1.0,
    "us-east-2": 1.0,
    "us-west-2": 1.0,
    "eu-west-1": 1.1,
    "eu-central-1": 1.15,
}
SPOT_FACTOR = 1 / 3
EBS_ROOT_PER_HOUR = 8 * 0.08 / 730
TRANSFER_PER_BYTE = 0.09 / 1e9
PER_METRIC_REQUESTED = 0.01 / 1000
PER_CE_CALL = 0.01
_COST_METRICS = {
    "UnblendedCost",
    "BlendedCost",
    "AmortizedCost",
    "NetUnblendedCost",
    "NetAmortizedCost",
}
_DIMENSIONS = {"SERVICE", "REGION", "LINKED_ACCOUNT"}


def hourly_price(instance_type: str, region: str, lifecycle: str) -> float:
    """The sandbox's on-demand (or spot) hourly price of an instance type in a region."""
    family, _, size = instance_type.partition(".")
    base = _LARGE_PRICE.get(family, 0.1)
    if size.endswith("xlarge") and size[:-6].isdigit():
        factor = 2.0 * int(size[:-6])
    else:
        factor = _SIZE_FACTOR.get(size, 1.0)
    price = base * factor * _REGION_FACTOR.get(region, 1.2)
    return round(price * (SPOT_FACTOR if lifecycle == "spot" else 1.0), 6)


class Metering:
    """Usage the sandbox bills outside the fleet: metrics requested and Cost Explorer calls."""

    def __init__(self) -> None:
        self._usage: dict[tuple[str, str, int], float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, account: str, service: str, at: float, quantity: float) -> None:
        """Bill ``quantity`` dollars of ``service`` to ``account`` on the day of ``at``."""
        with self._lock:
            self._usage[(account, service, int(at) // 86400)] += quantity

    def dollars(self, account: str) -> dict[tuple[str, int], float]:
        """``{(service, epoch day): dollars}`` billed to ``account``."""
        with self._lock:
            return {(s, d): v for (a, s, d), v in self._usage.items() if a == account}


def _day(text: object, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ApiError(
            "ValidationException", f"TimePeriod.{name} must be a date like 2026-11-01; got {text!r}"
        ) from None


class CostExplorer:
    """GetCostAndUsage for one account at a time, from the timeline and the metering."""

    def __init__(self, timeline: Timeline, metering: Metering) -> None:
        self.timeline = timeline
        self.metering = metering

    def daily_costs(
        self, account: str, first: date, days: int
    ) -> dict[tuple[str, str], np.ndarray]:
        """``{(service, region): dollars per day}`` for ``days`` days from ``first``."""
        out: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(days))
        d0 = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())
        end = min(d0 + days * 86400, int(self.timeline.clock.now()) // STEP_S * STEP_S)
        slots = np.arange(d0, max(end, d0), STEP_S, dtype=np.int64)
        day_of = (slots - d0) // 86400
        hours = STEP_S / 3600
        for iid, instance in self.timeline.fleet.instances.items():
            if instance.account_id != account:
                continue
            price = hourly_price(instance.instance_type, instance.region, instance.lifecycle)
            running = self.timeline.running(iid, slots)
            out[(COMPUTE, instance.region)] += np.bincount(day_of, running * price * hours, days)[
                :days
            ]
            if instance.root_device_type == "ebs":
                exists = self.timeline.exists(iid, slots)
                out[(EBS, instance.region)] += np.bincount(
                    day_of, exists * EBS_ROOT_PER_HOUR * hours, days
                )[:days]
            ts, sent = self.timeline.values(
                iid, "NetworkOut", slots[slots + STEP_S <= self.timeline.clock.now()]
            )
            out[(TRANSFER, instance.region)] += np.bincount(
                (ts - d0) // 86400, sent * TRANSFER_PER_BYTE, days
            )[:days]
        for (service, day), dollars in self.metering.dollars(account).items():
            if 0 <= day - d0 // 86400 < days:
                out[(service, GLOBAL_REGION)][day - d0 // 86400] += dollars
        return out

    def get_cost_and_usage(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer GetCostAndUsage (DAILY or MONTHLY, grouped by up to two dimensions)."""
        period = params.get("TimePeriod") or {}
        first, last = _day(period.get("Start"), "Start"), _day(period.get("End"), "End")
        if last <= first:
            raise ApiError(
                "ValidationException", "Start date (inclusive) must be before end date (exclusive)"
            )
        granularity = params.get("Granularity", "DAILY")
        if granularity not in {"DAILY", "MONTHLY"}:
            raise ApiError(
                "ValidationException", f"Granularity {granularity} is not enabled for this account"
            )
        metrics = params.get("Metrics") or []
        if not metrics:
            raise ApiError("ValidationException", "Metrics is required")
        unknown = [m for m in metrics if m not in _COST_METRICS]
        if unknown:
            raise ApiError("ValidationException", f"The sandbox does not serve metric {unknown[0]}")
        groups = [g.get("Key") for g in params.get("GroupBy") or []]
        if len(groups) > 2 or any(g not in _DIMENSIONS for g in groups):
            raise ApiError(
                "ValidationException", "GroupBy takes up to two of SERVICE, REGION, LINKED_ACCOUNT"
            )
        days = (last - first).days
        costs = self._filtered(
            account, self.daily_costs(account, first, days), params.get("Filter")
        )
        results = []
        for start, stop in _periods(first, last, granularity):
            a, b = (start - first).days, (stop - first).days
            totals: dict[tuple[str, ...], float] = defaultdict(float)
            for (service, region), series in costs.items():
                key = tuple(
                    {"SERVICE": service, "REGION": region, "LINKED_ACCOUNT": account}[g]
                    for g in groups
                )
                totals[key] += float(series[a:b].sum())
            estimated = (
                datetime(stop.year, stop.month, stop.day, tzinfo=UTC).timestamp()
                > self.timeline.clock.now()
            )
            entry: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": stop.isoformat()},
                "Estimated": estimated,
            }
            if groups:
                entry["Total"] = {}
                entry["Groups"] = [
                    {"Keys": list(key), "Metrics": {m: _amount(v) for m in metrics}}
                    for key, v in sorted(totals.items())
                ]
            else:
                entry["Total"] = {m: _amount(sum(totals.values())) for m in metrics}
                entry["Groups"] = []
            results.append(entry)
        answer: dict[str, Any] = {"ResultsByTime": results, "DimensionValueAttributes": []}
        if groups:
            answer["GroupDefinitions"] = [{"Type": "DIMENSION", "Key": g} for g in groups]
        return answer

    @staticmethod
    def _filtered(
        account: str, costs: dict[tuple[str, str], np.ndarray], spec: Any
    ) -> dict[tuple[str, str], np.ndarray]:
        if not spec:
            return costs
        dims = spec.get("Dimensions") if isinstance(spec, dict) and len(spec) == 1 else None
        if not dims or dims.get("Key") not in _DIMENSIONS:
            raise ApiError(
                "ValidationException",
                "The sandbox filters on one Dimensions expression (SERVICE, REGION or LINKED_ACCOUNT)",
            )
        wanted, key = set(dims.get("Values") or []), dims["Key"]
        if key == "LINKED_ACCOUNT":
            return costs if account in wanted else {}
        position = 0 if key == "SERVICE" else 1
        return {k: v for k, v in costs.items() if k[position] in wanted}


def _amount(value: float) -> dict[str, str]:
    return {"Amount": f"{value:.10f}".rstrip("0").rstrip(".") or "0", "Unit": "USD"}


def _periods(first: date, last: date, granularity: str) -> list[tuple[date, date]]:
    out = []
    cursor = first
    while cursor < last:
        if granularity == "DAILY":
            stop = cursor + timedelta(days=1)
        else:
            stop = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        stop = min(stop, last)
        out.append((cursor, stop))
        cursor = stop
    return out
