"""The pipeline benchmark: real broker, real Faust worker, real model service.

Run by ``spendsense bench pipeline`` (``make bench-pipeline``). In one run it measures:

1. the bare in-process model rate: the same records through ``InstanceModel.learn_one`` and
   ``verdict`` in this process, models kept live (no state bytes, no HTTP, no Kafka), per
   wall-clock second and per CPU second;
2. the highest sustained pipeline rate: a backlog of records produced to ``metrics`` as fast
   as possible, measured as the rate detections come out (the middle 80% of them), and the
   CPU seconds the worker and the model service (their process trees, read from ``/proc``)
   spent on the backlog: records per CPU second, comparable across machine loads (the
   broker's CPU is not counted: it is shared);
3. latency at a steady rate (default 2,000 records/s): from a record's produce time to its
   detection's (both Kafka CreateTime stamps on this machine), p50 and p99;
4. the Faust floor: with the pipeline stopped, a Faust agent that only takes and acknowledges
   (:mod:`bench.faust_floor`) reads the same ``metrics`` topic from the start: the highest
   rate any Faust agent reading one record per message reaches on this machine.

:func:`median_run` folds several runs into their medians (``--runs``, default 3).

Topics get their own prefix (and are deleted afterwards); the model service and the worker are
started with the user's commands (:mod:`devstack.launch`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from detector.reference import assign_from_start
from detector.scoring import InstanceModel, Point
from devstack import stack
from devstack.launch import Child, launch
from spendsense import topic_admin
from spendsense.events import InventoryRecord, MetricRecord
from spendsense.kafka_clients import aiokafka_config
from spendsense.ports import free_port
from spendsense.settings import KafkaSettings, Settings
from spendsense.topics import (
    DETECTIONS,
    DETECTIONS_SPEC,
    INVENTORY,
    INVENTORY_SPEC,
    METRICS,
    METRICS_SPEC,
    topic_name,
)

ACCOUNT = "123456789012"
TENANT = "bench"


@dataclass(frozen=True)
class Workload:
    """A synthetic fleet: ``instances`` instances, a third of them quiet, 5-minute periods."""

    instances: int
    seed: int = 7

    def instance_id(self, i: int) -> str:
        return f"i-{i:017x}"

    def inventory(self) -> list[InventoryRecord]:
        now = datetime.now(UTC)
        return [
            InventoryRecord(
                tenant_id=TENANT,
                account_id=ACCOUNT,
                region="us-east-1",
                instance_id=self.instance_id(i),
                state="running",
                instance_type="m5.large",
                launch_time=now - timedelta(days=30),
                hourly_price_usd=0.096,
                observed_at=now,
            )
            for i in range(self.instances)
        ]

    def records(self, periods: int, start: datetime) -> Iterator[MetricRecord]:
        """``periods`` rounds, each one record per instance, in time order."""
        rng = random.Random(self.seed)
        for k in range(periods):
            ts = start + timedelta(minutes=5 * k)
            for i in range(self.instances):
                quiet = i % 3 == 0
                cpu = rng.uniform(0.1, 0.6) if quiet else rng.uniform(15, 70)
                net = rng.uniform(100, 900) if quiet else rng.uniform(1e6, 5e7)
                yield MetricRecord(
                    tenant_id=TENANT,
                    account_id=ACCOUNT,
                    region="us-east-1",
                    instance_id=self.instance_id(i),
                    timestamp=ts,
                    cpu_percent=cpu,
                    network_in_bytes=net,
                    network_out_bytes=net / 2,
                )


def cpu_seconds(*pids: int) -> float:
    """CPU seconds (user + system) used so far by these processes and all their descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = set(pids), list(pids)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(used.get(pid, 0.0) for pid in tree)


def in_process_rate(records: list[MetricRecord]) -> tuple[float, float]:
    """Records per wall-clock second and per CPU second through the bare model."""
    models: dict[str, InstanceModel] = {}
    template = InstanceModel()
    cpu = time.process_time()
    started = time.perf_counter()
    for r in records:
        model = models.get(r.instance_id)
        if model is None:
            model = models[r.instance_id] = template.clone()
        model.learn_one(Point(r.timestamp, r.cpu_percent, r.network_in_bytes, r.network_out_bytes))
        model.verdict()
    wall = time.perf_counter() - started
    return len(records) / wall, len(records) / (time.process_time() - cpu)


class Detections:
    """Reads ``detections`` from the start; keeps each one's CreateTime by (instance, period)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.consumer = AIOKafkaConsumer(**aiokafka_config(kafka, group_id=None))
        self.topic = topic_name(kafka, DETECTIONS)
        self.seen: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await assign_from_start(self.consumer, [self.topic])
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=10000)
            for records in batches.values():
                for rec in records:
                    detection = DETECTIONS_SPEC.parse(rec.value)
                    self.seen[_key(detection.instance_id, detection.timestamp)] = rec.timestamp

    async def wait_for(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while len(self.seen) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()


def _key(instance_id: str, timestamp: datetime) -> tuple[str, str]:
    """A record's (instance, period), as metrics and detections both carry them."""
    return instance_id, timestamp.astimezone(UTC).isoformat()


async def _produce_all(producer: AIOKafkaProducer, topic: str, records: list[MetricRecord]) -> None:
    for r in records:
        key, value = METRICS_SPEC.encode(r)
        await producer.send(topic, key=key, value=value)
    await producer.flush()


async def _produce_paced(
    producer: AIOKafkaProducer, topic: str, records: list[MetricRecord], rate: float
) -> dict[tuple[str, str], int]:
    """Send at ``rate`` records/s in 10 ms ticks; returns each record's produce time (ms)."""
    sent: dict[tuple[str, str], int] = {}
    tick = 0.01
    per_tick = rate * tick
    started = time.perf_counter()
    due = 0.0
    i = 0
    while i < len(records):
        due += per_tick
        while i < min(int(due), len(records)):
            r = records[i]
            now_ms = int(time.time() * 1000)
            key, value = METRICS_SPEC.encode(r)
            await producer.send(topic, key=key, value=value, timestamp_ms=now_ms)
            sent[_key(r.instance_id, r.timestamp)] = now_ms
            i += 1
        next_at = started + tick * (len(sent) / per_tick)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await producer.flush()
    return sent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(
    settings: Settings,
    workload: Workload,
    backlog: int,
    steady_rate: float,
    steady_s: float,
    pids: tuple[int, ...],
) -> dict[str, Any]:
    kafka = settings.kafka
    periods_backlog = max(1, backlog // workload.instances)
    periods_steady = max(1, int(steady_rate * steady_s) // workload.instances)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=5 * (periods_backlog + periods_steady + 1)
    )
    records = list(workload.records(periods_backlog + periods_steady, start))
    first, second = (
        records[: periods_backlog * workload.instances],
        records[periods_backlog * workload.instances :],
    )
    producer = AIOKafkaProducer(**aiokafka_config(kafka, linger_ms=5, acks=1))
    detections = Detections(kafka)
    await producer.start()
    await detections.start()
    try:
        metrics_topic = topic_name(kafka, METRICS)
        cpu_before = [cpu_seconds(pid) for pid in pids]
        await _produce_all(producer, metrics_topic, first)
        if not await detections.wait_for(len(first), timeout_s=600):
            raise RuntimeError(f"only {len(detections.seen)} of {len(first)} detections came out")
        stamps = sorted(detections.seen[_key(r.instance_id, r.timestamp)] for r in first)
        lo, hi = stamps[len(stamps) // 10], stamps[(len(stamps) * 9) // 10]
        sustained = (len(stamps) * 0.8) / max((hi - lo) / 1000, 1e-3)
        cpu_used = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        backlog_cpu = sum(cpu_used)

        sent = await _produce_paced(producer, metrics_topic, second, steady_rate)
        ok = await detections.wait_for(len(first) + len(second), timeout_s=300)
        latencies = [float(detections.seen[k] - t) for k, t in sent.items() if k in detections.seen]
        return {
            "sustained_records_per_second": round(sustained),
            "pipeline_records_per_cpu_second": round(len(first) / backlog_cpu),
            "pipeline_cpu_seconds_backlog": round(backlog_cpu, 1),
            "cpu_us_per_record": {
                name: round(1e6 * used / len(first))
                for name, used in zip(("model_service", "worker"), cpu_used, strict=True)
            },
            "backlog_records": len(first),
            "steady_rate": steady_rate,
            "steady_records": len(second),
            "steady_all_detected": ok,
            "latency_ms_p50": _percentile(latencies, 0.5),
            "latency_ms_p99": _percentile(latencies, 0.99),
            "latency_ms_mean": round(statistics.fmean(latencies), 1),
        }
    finally:
        await detections.stop()
        await producer.stop()


def _produce_inventory(settings: Settings, workload: Workload) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(**aiokafka_config(settings.kafka))
        await producer.start()
        try:
            topic = topic_name(settings.kafka, INVENTORY)
            for rec in workload.inventory():
                key, value = INVENTORY_SPEC.encode(rec)
                await producer.send(topic, key=key, value=value)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def _faust_floor(
    env: dict[str, str], records: int, logs: Path, timeout_s: float = 600
) -> dict[str, int]:
    """Run :mod:`bench.faust_floor` over the ``records`` on the metrics topic; its figures."""
    out = logs / "faust-floor.json"
    worker = stack.spec(
        "detector", env={**env, "BENCH_FLOOR_RECORDS": str(records), "BENCH_FLOOR_OUT": str(out)}
    )
    # the detector's own command line, with the do-nothing app in place of detector.app
    argv = ["bench.faust_floor" if arg == "detector.app" else arg for arg in worker.argv]
    floor = Child(argv, worker.env, logs / "faust-floor.log", name="faust-floor")
    floor.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not out.exists():
            if not floor.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Faust floor run did not finish; see {floor.log_path}")
            time.sleep(0.2)
        seen = json.loads(out.read_text())
    finally:
        floor.stop()
    if seen["records"] <= 0 or seen["seconds"] <= 0:
        raise RuntimeError(
            f"the Faust floor read all {records} records in its first batch, which it does not "
            "time: give a --backlog of several batches"
        )
    return {
        "faust_floor_records_per_second": round(seen["records"] / seen["seconds"]),
        "faust_floor_cpu_us_per_record": round(1e6 * seen["cpu_seconds"] / seen["records"]),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number's median over the runs (other values from the last run), runs listed.

    >>> median_run([{"rate": 1, "ok": True}, {"rate": 5, "ok": True}, {"rate": 3, "ok": False}])
    {'rate': 3, 'ok': False, 'runs': [{'rate': 1, 'ok': True}, {'rate': 5, 'ok': True}, \
{'rate': 3, 'ok': False}]}
    """
    merged: dict[str, Any] = {}
    for key, last in runs[-1].items():
        values = [run[key] for run in runs]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        merged[key] = statistics.median(values) if numeric else last
    return {**merged, "runs": runs}


def run_benchmark(
    settings: Settings,
    instances: int = 2000,
    backlog: int = 30000,
    steady_rate: float = 2000.0,
    steady_s: float = 15.0,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    """Start everything, measure, stop everything; returns the figures."""
    run_id = uuid.uuid4().hex[:8]
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"bench{run_id}-"})
    settings = settings.model_copy(update={"kafka": kafka})
    logs = log_dir or settings.var_dir / "bench" / f"pipeline-{run_id}"
    workload = Workload(instances)

    sample = list(workload.records(max(1, 20000 // instances), datetime(2026, 1, 1, tzinfo=UTC)))
    bare, bare_cpu = in_process_rate(sample)

    topic_admin.create_topics(kafka)
    service_port, metrics_port = free_port(), free_port()
    service_env = {
        "SPENDSENSE_DETECTOR__CHECKPOINT_PATH": str(logs / "model-service.json"),
        "SPENDSENSE_DETECTOR__MODEL_PORT": str(service_port),
    }
    env = {
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_DETECTOR__MODEL_URL": f"http://127.0.0.1:{service_port}",
        "SPENDSENSE_DETECTOR__METRICS_PORT": str(metrics_port),
        "SPENDSENSE_DETECTOR__WEB_PORT": str(free_port()),
        "SPENDSENSE_VAR_DIR": str(logs / "var"),
    }
    service: Child | None = None
    worker: Child | None = None
    try:
        _produce_inventory(settings, workload)
        service = launch(stack.spec("model", env=service_env), logs / "service.log")
        worker = launch(stack.spec("detector", env=env), logs / "worker.log")
        pids = tuple(c.proc.pid for c in (service, worker) if c.proc is not None)
        figures = asyncio.run(_measure(settings, workload, backlog, steady_rate, steady_s, pids))
        worker.stop()
        service.stop()
        on_topic = figures["backlog_records"] + figures["steady_records"]
        figures |= _faust_floor(env, on_topic, logs)
    finally:
        for child in (worker, service):
            if child is not None:
                child.stop()
        topic_admin.delete_topics(kafka)
    figures["in_process_records_per_second"] = round(bare)
    figures["in_process_records_per_cpu_second"] = round(bare_cpu)
    figures["pipeline_over_in_process_cpu"] = round(
        figures["pipeline_records_per_cpu_second"] / bare_cpu, 3
    )
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    figures["pipeline_over_in_process"] = round(figures["sustained_records_per_second"] / bare, 3)
    figures["faust_floor_over_in_process"] = round(
        figures["faust_floor_records_per_second"] / bare, 3
    )
    figures["instances"] = instances
    figures["batch_size"] = settings.detector.batch_size
    figures["logs"] = str(logs)
    return figures
