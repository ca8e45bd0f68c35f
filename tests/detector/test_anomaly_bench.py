"""The anomaly benchmark on tiny fleets: what counts as detected, false and on time, the
dollars, and the command that writes the figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.anomalies import run_benchmark
from bench.idle import Onboarding
from sandbox.fleet import Fleet, FleetInstance, Trace, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.model import AnomalyWindow
from spendsense.cli import main

START = datetime(2026, 11, 1, tzinfo=UTC)
DAY = 288
ADDED = 9e8
"""Bytes per 5 minutes an egress surge adds (3 MB/s)."""


def one_server(surge_at: int | None, days: int = 10) -> Fleet:
    """One steady web server (m5.large, us-east-1), with a 2-hour egress surge at point
    ``surge_at`` when given."""
    n = days * DAY
    i = np.arange(n, dtype=np.float64)
    out = 5e6 + (i % 11) * 1e5
    windows: tuple[AnomalyWindow, ...] = ()
    if surge_at is not None:
        out[surge_at : surge_at + 24] += ADDED
        start = START + timedelta(minutes=5 * surge_at)
        windows = (
            AnomalyWindow(
                "egress-surge",
                "network_out_bytes",
                start,
                start + timedelta(hours=2),
                0.0,
                ADDED,
            ),
        )
    iid = "i-0000000000000a01"
    instance = FleetInstance(
        iid, "111111111111", "acme", "us-east-1", "m5.large", START - timedelta(days=30),
        "on-demand", "ebs", None, "web-diurnal", "running",
    )  # fmt: skip
    trace = Trace(START, 20.0 + i % 5, 4e6 + (i % 7) * 1e5, out)
    return Fleet(
        None, {iid: instance}, {iid: trace}, {iid: None}, {iid: windows} if windows else {}
    )


def test_a_surge_is_detected_five_minutes_after_its_first_point_arrives() -> None:
    fleet = one_server(surge_at=9 * DAY)
    report = run_benchmark(fleet, Onboarding.after(fleet, history_days=8))
    overall = report.as_dict()["overall"]
    assert (overall["windows"], overall["detected"], overall["false_events"]) == (1, 1, 0)
    assert overall["minutes_to_alert"]["p50"] == 5.0  # confirmed by its second point
    hourly = ADDED * 12 / 1e9 * 0.09  # us-east-1's $0.09 per GB out
    assert overall["dollars_labelled"] == pytest.approx(2 * hourly, rel=0.01)
    assert overall["dollars_flagged"] == pytest.approx(2 * hourly, rel=0.05)
    assert report.instance_weeks == pytest.approx(
        (2 * DAY * 300 + 7 * 3600) / (7 * 86400), rel=0.01
    )


def test_a_surge_in_the_backfill_or_in_the_first_week_is_no_event() -> None:
    backfilled = one_server(surge_at=8 * DAY)
    assert run_benchmark(backfilled, Onboarding.after(backfilled, history_days=9)).events == 0
    early = one_server(surge_at=5 * DAY)
    assert run_benchmark(early, Onboarding.after(early, history_days=4)).events == 0


def test_a_surge_nobody_labelled_is_a_false_event() -> None:
    fleet = one_server(surge_at=9 * DAY)
    unlabelled = Fleet(None, fleet.instances, fleet.traces, fleet.labels)
    report = run_benchmark(unlabelled, Onboarding.after(unlabelled, history_days=8))
    assert (report.events, report.false_events, report.windows) == (1, 1, 0)
    assert report.false_by_kind == {"web-diurnal": 1}


def test_the_command_writes_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = generate_fleet(FleetSpec(seed=3, instances=16, days=10, history_days=8, anomalies=1.0))
    write_fleet(fleet, tmp_path / "fleet")
    out = tmp_path / "anomalies.json"
    args = ["bench", "anomalies", "--fleet", str(tmp_path / "fleet"), "--history-days", "8"]
    assert main([*args, "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["benchmark"] == "anomalies"
    assert figures["overall"]["windows"] == sum(len(w) for w in fleet.anomalies.values())
    assert set(figures["per_anomaly_kind"]) <= {
        "egress-surge",
        "runaway-cpu",
        "nightly-all-day",
        "night-activity",
    }
    assert "per 100 instance-weeks" in capsys.readouterr().out


def test_the_command_refuses_a_fleet_without_labelled_anomalies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_fleet(generate_fleet(FleetSpec(seed=3, instances=4, days=2, history_days=1)), tmp_path)
    assert main(["bench", "anomalies", "--fleet", str(tmp_path)]) != 0
    assert "no labelled anomalies" in capsys.readouterr().err
