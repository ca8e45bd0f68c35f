"""``spendsense collect`` killed with SIGKILL mid-cycle and restarted: every period exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from spendsense.ports import free_port
from tests.ingest.conftest import IngestEnv, metric_periods
from tests.ingest.test_collect import assert_exactly_once, stamp

pytestmark = [pytest.mark.kafka]


def collect_once(env: IngestEnv) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "spendsense.cli", "collect", "--once"],
        env={
            **os.environ,
            **env.env(),
            "SPENDSENSE_INGEST__POLICY": "naive",
            "SPENDSENSE_INGEST__CONCURRENCY": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_killed_collector_restarts_without_repeating_or_skipping(ingest_env: IngestEnv) -> None:
    before = ingest_env.clock()
    # Slow CloudWatch answers spread the cycle's four batches over seconds, so the kill
    # lands with some batches published and others not yet asked for.
    ingest_env.sandbox.set_faults(latency_ms=2500, operations=["GetMetricData"])
    try:
        first = collect_once(ingest_env)
        deadline = time.monotonic() + 120
        while not metric_periods(ingest_env.settings.kafka):  # the first batch is on the topic
            assert first.poll() is None, first.communicate()[0].decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        ingest_env.sandbox.clear_faults()
    assert first.returncode == -signal.SIGKILL
    killed_at = len(metric_periods(ingest_env.settings.kafka))

    second = collect_once(ingest_env)
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out.decode()
    text = out.decode()
    assert "acme/" in text and "globex/" in text and "error" not in text, text
    assert "recovery:" in text, text  # it read back what the killed run had published
    published = assert_exactly_once(ingest_env, ingest_env.backfill_start(before))
    assert len(published) > killed_at


def _copy_sqlite(src: str, dst: str) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def test_records_flushed_but_not_checkpointed_are_not_published_again(
    ingest_env: IngestEnv, tmp_path: Path
) -> None:
    """The worst moment to die: the broker has a cycle's records, the store not its cursors."""
    db = ingest_env.settings.store.url.removeprefix("sqlite:///")
    before = ingest_env.clock()
    ingest_env.service(policy="naive").run_cycle()
    _copy_sqlite(db, str(tmp_path / "checkpointed.db"))

    ingest_env.sandbox.advance_clock(3600)
    ingest_env.service(policy="naive").run_cycle()  # publishes the hour, then commits
    # the sandbox's clock runs on: a period settling before the restart is new, not a repeat
    cutoff = stamp(ingest_env.clock())
    published = len(metric_periods(ingest_env.settings.kafka))
    _copy_sqlite(str(tmp_path / "checkpointed.db"), db)  # ...as if it died before the commit

    restarted = ingest_env.service(policy="naive")  # a new process: recovers on its first cycle
    assert all(r.status == "ok" for r in restarted.run_cycle())
    assert len(restarted.ctx.recovered) == 0  # forgotten once the cursors moved past it
    after = metric_periods(ingest_env.settings.kafka)
    assert len([p for p in after if p[2] < cutoff]) == published
    assert_exactly_once(ingest_env, ingest_env.backfill_start(before))


def test_collector_serves_metrics_and_stops_cleanly_on_sigterm(ingest_env: IngestEnv) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendsense.cli", "collect"],
        env={
            **os.environ,
            **ingest_env.env(),
            "SPENDSENSE_INGEST__METRICS_PORT": str(port),
            "SPENDSENSE_INGEST__CYCLE_S": "3600",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        body = ""
        while "spendsense_ingest_account_status{" not in body:  # a cycle has finished
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, body
            time.sleep(0.5)
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                continue
        assert 'spendsense_ingest_records_published_total{tenant="acme",topic="metrics"}' in body
        assert "spendsense_aws_calls_total{" in body
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.decode()
    assert "collector stopped" in out.decode()
