"""``spendsense bench pipeline`` works end to end on the real broker, a small fleet.

Not a measurement (that is ``make bench-pipeline``): it checks that every record produced
comes out as a detection, in the backlog and the steady run, and that the Faust floor run
reads the whole topic, so the benchmark cannot silently rot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pipeline import median_run, run_benchmark
from spendsense.settings import KafkaSettings, Settings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_a_small_pipeline_benchmark_detects_every_period_and_measures_the_floor(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, kafka=kafka_broker)  # type: ignore[call-arg]
    figures = median_run(
        [
            run_benchmark(
                settings,
                instances=100,
                backlog=3000,
                steady_rate=200.0,
                steady_s=2.0,
                periods_per_record=6,
                log_dir=tmp_path / "logs",
            )
        ]
    )
    assert (figures["backlog_periods"], figures["backlog_records"]) == (3000, 500)
    assert figures["steady_all_detected"] is True
    assert figures["sustained_periods_per_second"] > 0
    assert figures["faust_floor_periods_per_second"] > 0
    assert 0 < figures["pipeline_over_in_process"] < 1


def test_two_workers_hand_over_when_one_is_killed(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, kafka=kafka_broker)  # type: ignore[call-arg]
    figures = run_benchmark(
        settings,
        instances=40,
        backlog=480,
        steady_rate=240.0,
        steady_s=1.0,
        workers=2,
        handover_s=20.0,
        log_dir=tmp_path / "logs",
    )
    assert figures["steady_all_detected"] and figures["handover_all_detected"]
    assert figures["handover_lost_periods"] == 0
    assert 0 < figures["handover_s"] < 30
