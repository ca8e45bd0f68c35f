"""The restart benchmark: a detector worker's time to its first detection after a restart, with
``instances`` instances of state, the in-memory store against RocksDB.

Run by ``spendsense bench restart`` (``make bench-restart``). For each store, on topics of its
own: the fleet's inventory; a worker scores one period of every instance, so its state table
holds ``instances`` states (and the changelog as many records); the worker stops (SIGTERM, as
a deploy stops it) and ``probes`` instances get a new period meanwhile; the worker starts again
with the same settings (so the same data directory). Measured from the start command: the
worker ready (its process up, ``inventory`` read in full) and the first detection of a new
period (Kafka CreateTime). The in-memory store replays the whole changelog before it scores;
RocksDB reads only the changelog's tail past what its disk holds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.pipeline import (
    Detections,
    Workload,
    median_run,
    produce_inventory,
    service_env,
    worker_env,
)
from devstack import stack
from devstack.launch import Child, launch
from spendsense import topic_admin
from spendsense.events import MetricPollRecord
from spendsense.kafka_clients import aiokafka_config
from spendsense.ports import free_port
from spendsense.settings import Settings
from spendsense.topics import METRICS, METRICS_SPEC, topic_name

STORES = ("memory", "rocksdb")
SETTLE_S = 5.0


async def _produce(settings: Settings, polls: list[MetricPollRecord]) -> None:
    producer = AIOKafkaProducer(**aiokafka_config(settings.kafka, linger_ms=20))
    await producer.start()
    try:
        topic = topic_name(settings.kafka, METRICS)
        for poll in polls:
            key, value = METRICS_SPEC.encode(poll)
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def _detected(settings: Settings, count: int, timeout_s: float) -> list[int]:
    """CreateTime (ms) of the first ``count`` distinct (instance, period) detections."""
    detections = Detections(settings.kafka)
    await detections.start()
    try:
        if not await detections.wait_for(count, timeout_s):
            raise RuntimeError(f"only {len(detections.seen)} of {count} detections came out")
        return sorted(detections.seen.values())
    finally:
        await detections.stop()


def restart_once(
    settings: Settings, store: str, workload: Workload, service_port: int, probes: int, logs: Path
) -> dict[str, Any]:
    """One store's run on topics of its own; its figures."""
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}-"})
    settings = settings.model_copy(update={"kafka": kafka})
    env = {
        **worker_env(kafka, service_port, logs / "var"),
        "SPENDSENSE_DETECTOR__STORE": store,
    }
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    polls = workload.polls(2, start, per_record=1)
    state, probe = polls[: workload.instances], polls[workload.instances :][:probes]
    topic_admin.create_topics(kafka)
    worker: Child | None = None
    try:
        produce_inventory(settings, workload)
        worker = launch(stack.spec("detector", env=env), logs / f"{store}-first.log")
        started = time.perf_counter()
        asyncio.run(_produce(settings, state))
        asyncio.run(_detected(settings, len(state), timeout_s=900))
        state_s = time.perf_counter() - started
        # as a deploy drains: the last batch's states reach the changelog and its offsets are
        # committed (Faust commits every 2.8 s), so the restart measures a restore, not a redo
        time.sleep(SETTLE_S)
        worker.stop()
        asyncio.run(_produce(settings, probe))
        started_ms = int(time.time() * 1000)
        worker = launch(stack.spec("detector", env=env), logs / f"{store}-restart.log")
        ready_s = (time.time() * 1000 - started_ms) / 1000
        stamps = asyncio.run(_detected(settings, len(state) + len(probe), timeout_s=900))
    finally:
        if worker is not None:
            worker.stop()
        topic_admin.delete_topics(kafka)
    new = [t for t in stamps if t >= started_ms]
    return {
        "ready_s": round(ready_s, 1),
        "first_detection_s": round((new[0] - started_ms) / 1000, 1),
        "all_probes_detected_s": round((new[-1] - started_ms) / 1000, 1),
        "state_build_s": round(state_s, 1),
    }


def run_benchmark(
    settings: Settings,
    instances: int = 100_000,
    probes: int = 100,
    runs: int = 1,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    """Each store's medians over ``runs``, one model service for all of them."""
    logs = log_dir or settings.var_dir / "bench" / f"restart-{uuid.uuid4().hex[:8]}"
    workload = Workload(instances)
    port = free_port()
    service = launch(stack.spec("model", env=service_env(logs, port)), logs / "service.log")
    try:
        figures: dict[str, Any] = {
            store: median_run(
                [
                    restart_once(settings, store, workload, port, probes, logs / f"{store}-{n}")
                    for n in range(runs)
                ]
            )
            for store in STORES
        }
    finally:
        service.stop()
    figures["instances"] = instances
    figures["probes"] = probes
    figures["rocksdb_over_memory"] = round(
        figures["rocksdb"]["first_detection_s"] / figures["memory"]["first_detection_s"], 3
    )
    figures["logs"] = str(logs)
    return figures
