"""The idle benchmark on a small generated fleet: the goals a small fleet can show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.idle import IdleReport, run_benchmark
from sandbox.fleet import load_fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.cli import main

PATTERN_KINDS = ("nightly-batch", "weekly-job", "steady-service", "web-diurnal", "nab-replay")


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 instances (every kind), 15.5 days: 14 of history, then live transitions."""
    out = tmp_path_factory.mktemp("fleet")
    write_fleet(generate_fleet(FleetSpec(seed=21, instances=24, days=15.5)), out)
    return out


@pytest.fixture(scope="module")
def report(fleet_dir: Path) -> IdleReport:
    return run_benchmark(load_fleet(fleet_dir), history_days=14)


def test_no_false_verdict_on_pattern_kinds_once_history_is_in(report: IdleReport) -> None:
    for kind in PATTERN_KINDS:
        assert report.per_kind[kind].instances > 0, f"the fleet should hold a {kind}"
        assert report.per_kind[kind].false_on_never_idle == 0, kind
    assert report.overall.precision == 1.0


def test_abandoned_and_idle_instances_are_all_detected_fast(report: IdleReport) -> None:
    assert report.per_kind["abandoned"].idle > 0
    assert report.overall.recall == 1.0
    median = report.overall.ttd(0.5)
    assert median is not None and median <= 60


def test_state_per_instance_stays_under_two_kilobytes(report: IdleReport) -> None:
    assert 0 < report.state_bytes_max <= 2048


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_dir = tmp_path / "fleet"
    write_fleet(generate_fleet(FleetSpec(seed=4, instances=8, days=2, history_days=1)), fleet_dir)
    out = tmp_path / "idle.json"
    args = ["bench", "idle", "--fleet", str(fleet_dir), "--history-days", "1", "--json", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "nightly-batch" in printed and "records/s" in printed
    figures = json.loads(out.read_text())
    assert figures["benchmark"] == "idle" and figures["machine"]["cpus"] >= 1
    assert figures["records"] == 8 * 2 * 288
    assert set(figures["per_kind"]) == {i.kind for i in load_fleet(fleet_dir).instances.values()}


def test_a_missing_fleet_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "idle", "--fleet", str(tmp_path / "nope")]) == 2
    assert "no such trace-fleet folder" in capsys.readouterr().err
