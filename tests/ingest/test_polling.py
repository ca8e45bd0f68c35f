"""Polling policies: tiers from points, and what the bench measures under each policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.collect import run_benchmark
from ingest.polling import POLICIES, get_policy, next_tier
from sandbox.fleet import write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.cli import main

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class P:
    timestamp: datetime
    cpu_percent: float | None
    network_in_bytes: float | None = 0.0
    network_out_bytes: float | None = 0.0


def series(hours: float, cpu: float, net: float = 100.0, start: datetime = T0) -> list[P]:
    return [P(start + timedelta(minutes=5 * i), cpu, net, net) for i in range(int(hours * 12))]


def test_a_backfill_quiet_for_days_is_dormant_at_once() -> None:
    policy = get_policy("adaptive")
    points = series(48, 50.0) + series(48, 0.4, start=T0 + timedelta(hours=48))
    now = points[-1].timestamp + timedelta(minutes=15)
    tier, since = next_tier(policy, "new", None, points, now)
    assert tier == "dormant"
    assert since is not None and abs(since - (T0 + timedelta(hours=48))) <= timedelta(hours=1)


def test_tiers_follow_the_last_hour() -> None:
    policy = get_policy("adaptive")
    now = T0 + timedelta(hours=2)
    assert next_tier(policy, "new", None, series(2, 60.0), now) == ("busy", None)
    assert next_tier(policy, "busy", None, series(2, 1.0, net=5e6), now) == ("serving", None)
    tier, since = next_tier(policy, "busy", None, series(2, 60.0) + series(1, 0.5), now)
    assert tier == "suspect" and since is not None
    assert next_tier(policy, "suspect", since, [P(now, None)], now) == ("suspect", since)
    assert next_tier(policy, "new", None, [], now) == ("suspect", None)
    # busy instances are polled less often and for fewer metrics than suspects
    busy, suspect = policy.plan("busy"), policy.plan("suspect")
    assert busy.interval_s > suspect.interval_s and len(busy.metrics) < len(suspect.metrics)
    with pytest.raises(ValueError, match="known: naive"):
        get_policy("sometimes")


HISTORY_DAYS = 7.5
"""The backfill: a week and a half day, as an idle verdict needs a week of history first."""


@pytest.fixture(scope="module")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 instances, one of each kind; those idle in the live period have a week of history."""
    fleet = generate_fleet(FleetSpec(seed=7, instances=16, days=9, history_days=HISTORY_DAYS))
    live = fleet.start + timedelta(days=HISTORY_DAYS)
    went_idle = {i: t for i, t in fleet.labels.items() if t is not None and t >= live}
    assert went_idle, "the fleet must have instances going idle in the live period"
    for iid, when in went_idle.items():
        assert when - fleet.traces[iid].start >= timedelta(days=7), iid
    folder = tmp_path_factory.mktemp("bench-fleet")
    write_fleet(fleet, folder)
    return folder


def test_bench_collect_prices_naive_polling_and_orders_policies(small_fleet: Path) -> None:
    from sandbox.fleet import load_fleet

    fleet = load_fleet(small_fleet)
    reports = {r.policy: r for r in run_benchmark(fleet, list(POLICIES), HISTORY_DAYS)}
    naive, hourly, adaptive = reports["naive"], reports["hourly"], reports["adaptive"]
    # 3 metrics every 5 minutes: 3 * 288 * 30.44 * 1000 / 1000 * $0.01 = $263 per 1,000 a month
    assert naive.usd_per_1000_month == pytest.approx(263, rel=0.05)
    assert hourly.usd_per_1000_month == pytest.approx(263 / 12, rel=0.1)
    assert adaptive.usd_per_1000_month < hourly.usd_per_1000_month
    assert naive.idle > 0 and len(naive.ttd_minutes) == naive.idle
    naive_p50, hourly_p50 = naive.ttd(0.5), hourly.ttd(0.5)
    assert naive_p50 is not None and hourly_p50 is not None and naive_p50 <= hourly_p50
    assert naive.calls >= hourly.calls > 0


def test_bench_collect_command_prints_and_writes(
    small_fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "collect.json"
    code = main(
        [
            "bench",
            "collect",
            "--fleet",
            str(small_fleet),
            "--policies",
            "naive",
            "adaptive",
            "--history-days",
            str(HISTORY_DAYS),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "naive" in text and "adaptive" in text and "$/1000/mo" in text
    figures = json.loads(out.read_text())
    assert [p["policy"] for p in figures["policies"]] == ["naive", "adaptive"]
    assert figures["policies"][0]["usd_per_1000_instances_month"] > 200
