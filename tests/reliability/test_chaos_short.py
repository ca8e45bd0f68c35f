"""The chaos run, short: ~2 minutes of kills, a broker restart and AWS faults, then every check.

It runs ``spendsense chaos``'s own code (:func:`devstack.chaos.driver.run_chaos`) on an
isolated stack (its own broker, sandbox, store and ports under ``tmp_path``), so the
shared broker is never touched. Its processes' output is kept under ``logs_dir`` for the
session's secret scan.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from devstack.chaos.driver import ChaosOptions, run_chaos
from devstack.chaos.plan import MIN_KILLS, make_plan
from spendsense.settings import KafkaSettings


@pytest.mark.slow
def test_short_chaos_run_loses_nothing_duplicates_nothing_and_recovers(
    kafka_broker: KafkaSettings, tmp_path: Path, logs_dir: Path
) -> None:
    plan = make_plan(seed=3, duration_s=120)
    options = ChaosOptions(minutes=2, seed=3, instances=24, settle_s=20, var_dir=tmp_path / "chaos")
    out = io.StringIO()
    try:
        result = run_chaos(plan, options, out)
    finally:
        var = tmp_path / "chaos"
        if (var / "processes.log").exists():
            shutil.copy(var / "processes.log", logs_dir / "chaos-short-processes.log")
    assert result.kills >= MIN_KILLS and result.broker_restarts == 1, out.getvalue()
    assert result.ok, out.getvalue() + "\n" + result.report
    assert "metrics exactly once" in result.report and "0 missing" in result.report
    restarted = {r.name for r in result.recoveries}
    assert {"collector", "detector", "model", "actions", "kafka"} <= restarted
