"""The BentoML model service, served for real: batch scoring, series, health, checkpoint; and
its cache of live models (:class:`detector.warm.WarmModels`) with tenants' ceilings of rest."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from detector.protocol import CeilingsIn, PointIn, SeriesItem, SeriesResult
from detector.scoring import Ceilings
from detector.warm import WarmModels
from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.ports import free_port
from tests.fixtures.detector import start_model_service


def points(n: int, cpu: float, start: int = 0) -> list[dict[str, object]]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        {
            "timestamp": (t0 + timedelta(minutes=5 * (start + i))).isoformat(),
            "cpu_percent": cpu,
            "network_in_bytes": 200.0,
            "network_out_bytes": 100.0,
        }
        for i in range(n)
    ]


def test_state_travels_and_the_checkpoint_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    checkpoint = tmp_path / "checkpoint.json"
    service = start_model_service(port, checkpoint, tmp_path / "service.log")
    try:
        whole = httpx.post(f"{url}/score_series", json={"points": points(12, 0.5)}, timeout=30)
        assert whole.status_code == 200
        # the same series in two batches, the state carried by the caller between them
        first = httpx.post(
            f"{url}/score_batch",
            json={"items": [{"key": "a", "points": points(5, 0.5)}, {"key": "b", "points": []}]},
            timeout=30,
        ).json()
        second = httpx.post(
            f"{url}/score_batch",
            json={
                "items": [
                    {"key": "a", "state": first[0]["state"], "points": points(7, 0.5, start=5)},
                    {"key": "bad", "state": "AAAA", "points": points(1, 0.5)},
                ]
            },
            timeout=30,
        ).json()
        assert first[0]["verdicts"] + second[0]["verdicts"] == whole.json()["verdicts"]
        assert second[0]["state"] == whole.json()["state"]
        assert second[1]["error"] and second[1]["verdicts"] == []
        # 55 minutes at a clean floor and no history before: it looks idle, but only provisionally
        last = whole.json()["verdicts"][-1]
        assert (last["idle"], last["provisional"]) == (False, True)

        status = httpx.post(f"{url}/status", json={}, timeout=10).json()
        assert (status["records_scored"], status["batches"]) == (24, 3)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'spendsense_model_records_scored_total{endpoint="score_batch"} 12.0' in metrics
        assert "spendsense_model_batch_latency_seconds_bucket" in metrics
        # periodic checkpoint (every second here), before any shutdown
        deadline = time.monotonic() + 10
        while not checkpoint.exists() or json.loads(checkpoint.read_text())["batches"] < 3:
            assert time.monotonic() < deadline, "no periodic checkpoint"
            time.sleep(0.2)
        httpx.post(f"{url}/score_series", json={"points": points(2, 50.0)}, timeout=30)
    finally:
        service.stop()
    saved = json.loads(checkpoint.read_text())  # written on shutdown
    assert (saved["records_scored"], saved["batches"]) == (26, 4)

    service = start_model_service(port, checkpoint, tmp_path / "service.log")
    try:
        status = httpx.post(f"{url}/status", json={}, timeout=10).json()
        assert (status["records_scored"], status["batches"]) == (26, 4)
    finally:
        service.stop()


def rest_points(n: int, start: int = 0) -> list[PointIn]:
    """CPU at 1.5 %, a few bytes a second: at rest under the default ceilings, not under 1 %."""
    return [PointIn.model_validate(p) for p in points(n, 1.5, start)]


STRICT = CeilingsIn(cpu_percent=1.0)


def resting(result: SeriesResult) -> list[bool]:
    return [v.idle_since is not None for v in result.verdicts]


def test_the_model_the_wire_and_settings_share_the_default_ceilings() -> None:
    defaults = (CPU_PERCENT.default, NETWORK_BPS.default)
    assert (Ceilings().cpu_percent, Ceilings().network_bps) == defaults
    assert (CeilingsIn().cpu_percent, CeilingsIn().network_bps) == defaults


def test_warm_models_score_with_each_items_ceilings() -> None:
    warm = WarmModels(size=10)
    default, _ = warm.score(SeriesItem(key="i-a", points=rest_points(12)))
    strict, _ = warm.score(SeriesItem(key="i-b", ceilings=STRICT, points=rest_points(12)))
    assert all(resting(default)) and not any(resting(strict))
    assert strict.verdicts[-1].rest_cpu_percent == 1.0


def test_a_cached_model_does_not_keep_the_ceilings_it_scored_with_before() -> None:
    """Items that continue a cached model (same key, the state it returned) get their own
    ceilings, not the ones the model last scored with: what a model rebuilt cold would say."""
    warm, cold = WarmModels(size=10), WarmModels(size=0)
    first, _ = warm.score(SeriesItem(key="series", ceilings=STRICT, points=rest_points(6)))
    again = SeriesItem(key="series", state=first.state, points=rest_points(6, start=6))
    hit, _ = warm.score(again)
    assert warm.hits == 1
    assert hit == cold.score(again)[0] and all(resting(hit))
    # and the other way round: defaults first, then a tenant's stricter ceilings
    loose, _ = warm.score(SeriesItem(key="i-c", points=rest_points(6)))
    stricter = SeriesItem(key="i-c", state=loose.state, ceilings=STRICT, points=rest_points(6, 6))
    hit, _ = warm.score(stricter)
    assert warm.hits == 2
    assert hit == cold.score(stricter)[0]
    assert hit != cold.score(stricter.model_copy(update={"ceilings": None}))[0]
