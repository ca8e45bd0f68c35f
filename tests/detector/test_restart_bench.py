"""``spendsense bench restart`` works end to end on the real broker, a small fleet.

Not a measurement (that is ``make bench-restart``): it checks that each store's worker builds
its state, restarts and detects the new periods, and that the RocksDB worker restarted from its
disk (it read only the changelog's tail), so the benchmark cannot silently rot.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bench.restart import STORES, run_benchmark
from spendsense.settings import KafkaSettings, Settings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_a_small_restart_benchmark_restarts_each_store_and_detects_again(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, kafka=kafka_broker)  # type: ignore[call-arg]
    figures = run_benchmark(settings, instances=200, probes=5, log_dir=tmp_path / "logs")
    for store in STORES:
        assert 0 < figures[store]["first_detection_s"] <= figures[store]["all_probes_detected_s"]
    # RocksDB's worker read the changelog from near its end, the in-memory one from the start
    logs = {s: tmp_path / "logs" / f"{s}-0" / f"{s}-restart.log" for s in STORES}
    assert set(reading_starts(logs["memory"])) == {-1}
    assert min(reading_starts(logs["rocksdb"])) >= 0


def reading_starts(log: Path) -> list[int]:
    """The changelog offsets Faust's recovery started reading at, from its table in ``log``."""
    lines = log.read_text().splitlines()
    first = lines.index(next(ln for ln in lines if "Reading Starts At - Active" in ln)) + 3
    rows = itertools.takewhile(lambda ln: ln.startswith("|"), lines[first:])
    return [int(row.split("|")[3]) for row in rows]
