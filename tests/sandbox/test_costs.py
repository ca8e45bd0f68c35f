"""Cost Explorer GetCostAndUsage: daily costs that follow the fleet's types and running hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from sandbox import control
from sandbox.costs import (
    COMPUTE,
    COST_EXPLORER,
    EBS,
    EBS_ROOT_PER_HOUR,
    TRANSFER,
    TRANSFER_PER_BYTE,
    hourly_price,
)
from tests.fixtures.sandbox import Sandbox

DAY = 86400


def _ce(sandbox: Sandbox, tenant: str) -> Any:
    return sandbox.client("ce", sandbox.tenant_session(tenant))


def _start_date(sandbox: Sandbox) -> date:
    """The sandbox's first day: the days before it are pure fleet history."""
    return datetime.fromtimestamp(control.clock(sandbox.endpoint_url)["start"], tz=UTC).date()


def _expected(sandbox: Sandbox, tenant: str, day: date) -> dict[str, float]:
    """Compute, EBS and transfer dollars of one history day, from the fleet alone."""
    shift = sandbox.shift()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    out = {COMPUTE: 0.0, EBS: 0.0, TRANSFER: 0.0}
    for instance in sandbox.fleet.instances.values():
        if instance.account_id != tenant or instance.state != "running":
            continue
        launched = (instance.launch_time.timestamp() + shift) // 300 * 300
        hours = max(0.0, start + DAY - max(start, launched)) / 3600
        out[COMPUTE] += hours * hourly_price(
            instance.instance_type, instance.region, instance.lifecycle
        )
        if instance.root_device_type == "ebs":
            out[EBS] += hours * EBS_ROOT_PER_HOUR
        trace = sandbox.fleet.traces[instance.instance_id]
        stamps = trace.start.timestamp() + shift + 300 * np.arange(len(trace))
        in_day = (stamps >= start) & (stamps < start + DAY)
        out[TRANSFER] += float(trace.network_out_bytes[in_day].sum()) * TRANSFER_PER_BYTE
    return out


def test_daily_costs_by_service_follow_the_fleet(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[0]
    ce = _ce(sandbox, tenant)
    today = _start_date(sandbox)  # history only: other suites' stops are all later
    answer = ce.get_cost_and_usage(
        TimePeriod={"Start": (today - timedelta(days=30)).isoformat(), "End": today.isoformat()},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
    )
    days = answer["ResultsByTime"]
    assert len(days) == 30
    for offset in (3, 8, 12):
        day = today - timedelta(days=offset)
        entry = next(d for d in days if d["TimePeriod"]["Start"] == day.isoformat())
        got = {
            g["Keys"][0]: float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in entry["Groups"]
        }
        for service, dollars in _expected(sandbox, tenant, day).items():
            assert got[service] == pytest.approx(dollars, rel=1e-6, abs=1e-6), (day, service)
        assert got[COMPUTE] > 1.0
    assert all(g["Metrics"]["UnblendedCost"]["Unit"] == "USD" for d in days for g in d["Groups"])


def test_region_grouping_and_totals_agree(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[1]
    ce = _ce(sandbox, tenant)
    today = _start_date(sandbox)  # history only: other suites' stops are all later
    period = {
        "Start": (today - timedelta(days=7)).isoformat(),
        "End": (today - timedelta(days=5)).isoformat(),
    }
    by_both = ce.get_cost_and_usage(
        TimePeriod=period,
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}],
    )
    total = ce.get_cost_and_usage(TimePeriod=period, Granularity="DAILY", Metrics=["UnblendedCost"])
    regions = {i.region for i in sandbox.fleet.instances.values() if i.account_id == tenant}
    for grouped, whole in zip(by_both["ResultsByTime"], total["ResultsByTime"], strict=True):
        compute_regions = {g["Keys"][1] for g in grouped["Groups"] if g["Keys"][0] == COMPUTE}
        assert compute_regions == regions
        summed = sum(float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in grouped["Groups"])
        assert summed == pytest.approx(float(whole["Total"]["UnblendedCost"]["Amount"]), rel=1e-9)


def test_each_call_is_counted_and_billed(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[0]
    ce = _ce(sandbox, tenant)
    today = datetime.fromtimestamp(sandbox.now(), tz=UTC).date()
    period = {"Start": today.isoformat(), "End": (today + timedelta(days=1)).isoformat()}
    before = sandbox.call_count("ce", "GetCostAndUsage", tenant)
    for _ in range(3):
        answer = ce.get_cost_and_usage(
            TimePeriod=period,
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
        )
    assert sandbox.call_count("ce", "GetCostAndUsage", tenant) == before + 3
    entry = answer["ResultsByTime"][0]
    assert entry["Estimated"] is True
    billed = {g["Keys"][0]: float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in entry["Groups"]}
    assert billed[COST_EXPLORER] >= 0.03 - 1e-9


def test_bad_period_is_a_validation_error(sandbox: Sandbox) -> None:
    ce = _ce(sandbox, sandbox.tenant_account_ids[0])
    with pytest.raises(ClientError) as info:
        ce.get_cost_and_usage(
            TimePeriod={"Start": "2026-11-10", "End": "2026-11-01"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
