"""The BentoML model service, served for real: batch scoring, series, health, checkpoint."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

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
        assert whole.json()["verdicts"][-1]["idle"]

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
