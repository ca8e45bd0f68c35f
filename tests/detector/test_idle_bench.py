"""The idle benchmark: onboarding replayed (backfill, then live), what users get, the anchors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.anchors import AverageCpu, DailyRule, TrustedAdvisor
from bench.idle import KindStats, Onboarding, outcome, replay
from detector.scoring import Point
from sandbox.fleet import Fleet, Trace, load_fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.cli import main

T0 = datetime(2026, 11, 15, tzinfo=UTC)


class AlwaysIdle:
    """A judge that calls every instance idle from its first point."""

    def learn_one(self, x: Point) -> None:
        """Nothing to learn."""

    def status(self) -> str:
        return "idle"


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    """16 instances over 3 days; the account is connected after 2."""
    return generate_fleet(FleetSpec(seed=21, instances=16, days=3, history_days=2))


def test_backfill_verdicts_behind_the_live_edge_never_alert(fleet: Fleet) -> None:
    on = Onboarding.after(fleet, history_days=2)
    t0 = int(on.connected.timestamp())
    outcomes = replay(fleet, AlwaysIdle, on).outcomes
    backfilled = [i for i, t in fleet.traces.items() if t.start < fleet.start + timedelta(hours=1)]
    assert backfilled, "the fleet should have instances running before the connection"
    for iid in backfilled:
        (alert,) = outcomes[iid].alerts  # idle throughout: one episode, one email
        ended = alert.period + 300
        assert alert.at == t0  # the earliest period at the live edge, judged at the connection
        assert t0 - ended <= on.live_edge_s < t0 - (ended - 300)
        assert outcomes[iid].provisional  # what came before the edge was shown provisional


def _trace(points: int) -> Trace:
    """A trace starting a day before T0 (its values are not read: the statuses are given)."""
    return Trace(T0 - timedelta(days=1), *np.zeros((3, points)))


def test_a_never_idle_instance_alerted_is_a_false_alert_and_a_false_stop() -> None:
    statuses = ["active"] * 290 + ["idle"] * 70  # idle from 10 minutes after T0, for 6 hours
    o = outcome("busy", _trace(360), None, statuses, Onboarding(T0))
    stats = KindStats.of([o], T0)
    assert (stats.alerts, stats.false_alerts, stats.autostops, stats.false_autostops) == (
        1,
        1,
        1,
        1,
    )
    assert stats.precision == 0.0 and stats.recall is None
    assert stats.as_dict()["false_alerts"] == 1


def test_an_episode_alerts_once_and_a_true_one_after_a_busy_verdict() -> None:
    idle_since = T0 + timedelta(hours=1)  # point 300
    statuses = ["active"] * 290 + ["idle"] * 6 + ["provisional"] + ["active"] * 3 + ["idle"] * 60
    o = outcome("drop", _trace(360), idle_since, statuses, Onboarding(T0, grace_s=3600))
    first, second = o.alerts
    assert not first.true and first.stopped_at is None  # 30 minutes idle: inside the grace
    assert second.true and second.period == idle_since.timestamp()
    assert second.stopped_at == second.at + 3600 and not second.false_stop
    stats = KindStats.of([o], T0)
    assert (stats.false_alerts, stats.detected, stats.precision) == (1, 1, 0.0)
    assert stats.ttd_drops == [15.0] and stats.ttd_since_launch == []  # settle 10 + period 5


def _day(start: datetime, cpu: float, network: float) -> list[Point]:
    return [Point(start + timedelta(minutes=5 * i), cpu, network, network) for i in range(288)]


@pytest.mark.parametrize("rule", [TrustedAdvisor, AverageCpu])
def test_the_anchors_flag_an_idle_instance_and_not_a_busy_one(rule: type[DailyRule]) -> None:
    idle, busy = rule(), rule()
    for day in range(14):
        start = T0 + timedelta(days=day)
        for p in _day(start, 0.5, 2_000.0):
            idle.learn_one(p)
        for p in _day(start, 40.0, 500_000.0):
            busy.learn_one(p)
    assert (idle.status(), busy.status()) == ("idle", "active")


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_dir = tmp_path / "fleet"
    write_fleet(generate_fleet(FleetSpec(seed=4, instances=8, days=2, history_days=1)), fleet_dir)
    out = tmp_path / "idle.json"
    args = ["bench", "idle", "--fleet", str(fleet_dir), "--history-days", "1", "--json", str(out)]
    assert main([*args, "--markdown"]) == 0
    printed = capsys.readouterr().out
    assert "| kind | instances |" in printed and "records/s" in printed
    figures = json.loads(out.read_text())
    assert figures["benchmark"] == "idle" and figures["machine"]["cpus"] >= 1
    assert isinstance(figures["overall"]["false_alerts"], int)
    assert isinstance(figures["overall"]["false_autostops"], int)
    assert figures["throughput"]["records"] == 8 * 2 * 288
    assert 0 < figures["throughput"]["state_bytes_max"] <= 2048
    kinds = {i.kind for i in load_fleet(fleet_dir).instances.values()}
    assert set(figures["per_kind"]) == kinds == set(figures["fleet"]["kinds"])
    for anchor in ("trusted-advisor", "cpu-average-under-5"):
        assert set(figures["anchors"][anchor]["per_kind"]) == kinds
        assert isinstance(figures["anchors"][anchor]["overall"]["false_alerts"], int)


def test_a_missing_fleet_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "idle", "--fleet", str(tmp_path / "nope")]) == 2
    assert "no such trace-fleet folder" in capsys.readouterr().err
