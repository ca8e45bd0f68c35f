"""The pipeline benchmark: real broker, real Faust workers, real model service.

Run by ``spendsense bench pipeline`` (``make bench-pipeline``). Records are version 2
``metrics`` records, each a poll's worth of periods of one instance (``periods_per_record``,
12 by default: an hour, the busy tier's poll), and every rate is in periods per second. In
one run it measures:

1. the bare in-process model rate: the same periods through ``InstanceModel.learn_one`` and
   ``verdict`` in this process, models kept live (no state bytes, no HTTP, no Kafka), per
   wall-clock second and per CPU second;
2. the highest sustained pipeline rate with ``workers`` detector workers in one group: a
   backlog produced to ``metrics`` as fast as possible, measured as the rate detections come
   out (the middle 80% of them), and the CPU seconds the workers and the model service
   (their process trees, read from ``/proc``) spent on it: periods per CPU second,
   comparable across machine loads (the broker's CPU is not counted: it is shared);
3. latency at a steady rate (default 2,000 periods/s): from a record's produce time to its
   periods' detections (both Kafka CreateTime stamps on this machine), p50 and p99;
4. with two workers or more, the handover: records keep coming at the steady rate while one
   worker is SIGKILLed; the time from the kill to the first detection of a period produced
   after it, in the slowest partition (the killed worker's), and every period accounted for
   (lost, and detections sent twice);
5. with one worker, the Faust floor: with the pipeline stopped, a Faust agent that only takes
   and acknowledges (:mod:`bench.faust_floor`) reads the same ``metrics`` topic from the
   start: the highest rate any Faust agent reaches on these records on this machine.

:func:`median_run` folds several runs into their medians (``--runs``, default 3).

Topics get their own prefix (and are deleted afterwards); the model service and the workers are
started with the user's commands (:mod:`devstack.launch`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
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
from detector.tables import key_partition
from devstack import stack
from devstack.launch import Child, launch
from spendsense import topic_admin
from spendsense.events import InventoryRecord, MetricPollRecord, MetricRecord
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
Key = tuple[str, str]  # (instance, period) as metrics and detections both carry them


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
        """``periods`` rounds, each one period per instance, in time order."""
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

    def polls(self, periods: int, start: datetime, per_record: int) -> list[MetricPollRecord]:
        """The same periods as polls: ``per_record`` periods of one instance per record, each
        poll round in time order (every instance's poll of a round before the next round)."""
        rounds = list(self.records(periods, start))
        out = []
        for first in range(0, periods, per_record):
            block = rounds[first * self.instances : (first + per_record) * self.instances]
            for i in range(self.instances):
                out += MetricPollRecord.pack(block[i :: self.instances])
        return out


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
    """Periods per wall-clock second and per CPU second through the bare model."""
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
    """Reads ``detections`` from the start; keeps each one's CreateTime by (instance, period)
    and counts every detection read (more than the keys: some were sent twice)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.consumer = AIOKafkaConsumer(**aiokafka_config(kafka, group_id=None))
        self.topic = topic_name(kafka, DETECTIONS)
        self.seen: dict[Key, int] = {}
        self.read = 0
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
                    self.seen.setdefault(
                        _key(detection.instance_id, detection.timestamp), rec.timestamp
                    )
                    self.read += 1

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


def _key(instance_id: str, timestamp: datetime) -> Key:
    """A period's (instance, period), as metrics and detections both carry them."""
    return instance_id, timestamp.astimezone(UTC).isoformat()


def _keys(poll: MetricPollRecord) -> list[Key]:
    return [_key(poll.instance_id, p.timestamp) for p in poll.periods]


def _periods(polls: list[MetricPollRecord]) -> int:
    return sum(len(p.periods) for p in polls)


async def _produce_all(
    producer: AIOKafkaProducer, topic: str, polls: list[MetricPollRecord]
) -> None:
    for poll in polls:
        key, value = METRICS_SPEC.encode(poll)
        await producer.send(topic, key=key, value=value)
    await producer.flush()


async def _produce_paced(
    producer: AIOKafkaProducer, topic: str, polls: list[MetricPollRecord], rate: float
) -> dict[Key, int]:
    """Send at ``rate`` periods/s in 10 ms ticks; returns each period's produce time (ms)."""
    sent: dict[Key, int] = {}
    tick = 0.01
    per_tick = rate / len(polls[0].periods) * tick if polls else 1.0
    started = time.perf_counter()
    due = 0.0
    i = 0
    while i < len(polls):
        due += per_tick
        while i < min(int(due), len(polls)):
            now_ms = int(time.time() * 1000)
            key, value = METRICS_SPEC.encode(polls[i])
            await producer.send(topic, key=key, value=value, timestamp_ms=now_ms)
            sent.update(dict.fromkeys(_keys(polls[i]), now_ms))
            i += 1
        next_at = started + tick * (i / per_tick)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await producer.flush()
    return sent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Phases:
    """The periods of one run: ``backlog``, ``steady`` and ``handover`` rounds of polls."""

    backlog: list[MetricPollRecord]
    steady: list[MetricPollRecord]
    handover: list[MetricPollRecord]

    @classmethod
    def of(
        cls, workload: Workload, per_record: int, backlog: int, steady: int, handover: int
    ) -> Phases:
        """Each phase's periods rounded up to whole polls of every instance."""
        whole = per_record * workload.instances
        counts = [
            max(1, -(-n // whole)) * per_record if n else 0 for n in (backlog, steady, handover)
        ]
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5 * (sum(counts) + 1))
        polls = workload.polls(sum(counts), start, per_record)
        cut1 = counts[0] // per_record * workload.instances
        cut2 = cut1 + counts[1] // per_record * workload.instances
        return cls(polls[:cut1], polls[cut1:cut2], polls[cut2:])


async def _handover(
    producer: AIOKafkaProducer,
    topic: str,
    polls: list[MetricPollRecord],
    rate: float,
    detections: Detections,
    doomed: Child,
    partitions: int,
) -> dict[str, Any]:
    """Produce ``polls`` at ``rate`` and SIGKILL ``doomed`` a tenth of the way in: the time to
    the first detection, in every partition, of a period produced after the kill."""
    before = len(detections.seen)
    pacing = asyncio.create_task(_produce_paced(producer, topic, polls, rate))
    await asyncio.sleep(_periods(polls) / rate / 10)
    doomed.stop(signal.SIGKILL)
    killed_ms = int(time.time() * 1000)
    sent = await pacing
    all_in = await detections.wait_for(before + len(sent), timeout_s=300)
    first: dict[int, int] = {}
    for key, at in sent.items():
        seen = detections.seen.get(key)
        if at > killed_ms and seen is not None:
            part = key_partition(key[0], partitions)
            first[part] = min(seen, first.get(part, seen))
    return {
        "handover_s": round((max(first.values()) - killed_ms) / 1000, 1) if first else None,
        "handover_periods": len(sent),
        "handover_lost_periods": sum(1 for key in sent if key not in detections.seen),
        "handover_all_detected": all_in,
    }


async def _measure(
    settings: Settings,
    phases: Phases,
    steady_rate: float,
    pids: tuple[int, ...],
    doomed: Child | None,
) -> dict[str, Any]:
    kafka = settings.kafka
    producer = AIOKafkaProducer(**aiokafka_config(kafka, linger_ms=5, acks=1))
    detections = Detections(kafka)
    await producer.start()
    await detections.start()
    try:
        metrics_topic = topic_name(kafka, METRICS)
        backlog = _periods(phases.backlog)
        cpu_before = [cpu_seconds(pid) for pid in pids]
        await _produce_all(producer, metrics_topic, phases.backlog)
        if not await detections.wait_for(backlog, timeout_s=600):
            raise RuntimeError(f"only {len(detections.seen)} of {backlog} detections came out")
        stamps = sorted(detections.seen[k] for poll in phases.backlog for k in _keys(poll))
        lo, hi = stamps[len(stamps) // 10], stamps[(len(stamps) * 9) // 10]
        sustained = (len(stamps) * 0.8) / max((hi - lo) / 1000, 1e-3)
        cpu_used = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        backlog_cpu = sum(cpu_used)

        sent = await _produce_paced(producer, metrics_topic, phases.steady, steady_rate)
        ok = await detections.wait_for(backlog + len(sent), timeout_s=300)
        latencies = [float(detections.seen[k] - t) for k, t in sent.items() if k in detections.seen]
        figures: dict[str, Any] = {
            "sustained_periods_per_second": round(sustained),
            "pipeline_periods_per_cpu_second": round(backlog / backlog_cpu),
            "pipeline_cpu_seconds_backlog": round(backlog_cpu, 1),
            "cpu_us_per_period": {
                "model_service": round(1e6 * cpu_used[0] / backlog),
                "workers": round(1e6 * sum(cpu_used[1:]) / backlog),
            },
            "backlog_periods": backlog,
            "backlog_records": len(phases.backlog),
            "steady_rate": steady_rate,
            "steady_periods": len(sent),
            "steady_all_detected": ok,
            "latency_ms_p50": _percentile(latencies, 0.5),
            "latency_ms_p99": _percentile(latencies, 0.99),
            "latency_ms_mean": round(statistics.fmean(latencies), 1),
        }
        if doomed is not None and phases.handover:
            figures |= await _handover(
                producer,
                metrics_topic,
                phases.handover,
                steady_rate,
                detections,
                doomed,
                kafka.metrics_partitions,
            )
        figures["detections_sent_twice"] = detections.read - len(detections.seen)
        return figures
    finally:
        await detections.stop()
        await producer.stop()


def produce_inventory(settings: Settings, workload: Workload) -> None:
    """The workload's instances on ``inventory`` (the workers read it in full at start)."""

    async def run() -> None:
        producer = AIOKafkaProducer(**aiokafka_config(settings.kafka, linger_ms=20))
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


def service_env(logs: Path, port: int) -> dict[str, str]:
    """The model service's settings for a benchmark run (its own port and checkpoint)."""
    return {
        "SPENDSENSE_DETECTOR__CHECKPOINT_PATH": str(logs / "model-service.json"),
        "SPENDSENSE_DETECTOR__MODEL_PORT": str(port),
    }


def worker_env(kafka: KafkaSettings, service_port: int, var_dir: Path) -> dict[str, str]:
    """One detector worker's settings for a benchmark run: its own ports, hence its own data
    directory under ``var_dir``."""
    return {
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_DETECTOR__MODEL_URL": f"http://127.0.0.1:{service_port}",
        "SPENDSENSE_DETECTOR__METRICS_PORT": str(free_port()),
        "SPENDSENSE_DETECTOR__WEB_PORT": str(free_port()),
        "SPENDSENSE_VAR_DIR": str(var_dir),
    }


def run_benchmark(
    settings: Settings,
    instances: int = 2000,
    backlog: int = 60000,
    steady_rate: float = 2000.0,
    steady_s: float = 15.0,
    workers: int = 1,
    periods_per_record: int = 12,
    handover_s: float = 40.0,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    """Start everything, measure, stop everything; returns the figures (periods are counted;
    ``backlog`` and the steady run are rounded up to whole rounds of polls)."""
    run_id = uuid.uuid4().hex[:8]
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"bench{run_id}-"})
    settings = settings.model_copy(update={"kafka": kafka})
    logs = log_dir or settings.var_dir / "bench" / f"pipeline-{run_id}"
    workload = Workload(instances)
    phases = Phases.of(
        workload,
        periods_per_record,
        backlog,
        int(steady_rate * steady_s),
        int(steady_rate * handover_s) if workers > 1 else 0,
    )

    sample = list(workload.records(max(1, 20000 // instances), datetime(2026, 1, 1, tzinfo=UTC)))
    bare, bare_cpu = in_process_rate(sample)

    topic_admin.create_topics(kafka)
    service_port = free_port()
    envs = [worker_env(kafka, service_port, logs / "var") for _ in range(workers)]
    children: list[Child] = []
    try:
        produce_inventory(settings, workload)
        children.append(
            launch(stack.spec("model", env=service_env(logs, service_port)), logs / "service.log")
        )
        for n, env in enumerate(envs):
            children.append(launch(stack.spec("detector", env=env), logs / f"worker{n}.log"))
        pids = tuple(c.proc.pid for c in children if c.proc is not None)
        doomed = children[1] if workers > 1 else None
        figures = asyncio.run(_measure(settings, phases, steady_rate, pids, doomed))
        for child in reversed(children):
            child.stop()
        if workers == 1:
            figures |= _faust_floor(envs[0], len(phases.backlog) + len(phases.steady), logs)
            figures["faust_floor_periods_per_second"] = (
                figures["faust_floor_records_per_second"] * periods_per_record
            )
    finally:
        for child in reversed(children):
            child.stop()
        topic_admin.delete_topics(kafka)
    figures["in_process_periods_per_second"] = round(bare)
    figures["in_process_periods_per_cpu_second"] = round(bare_cpu)
    figures["pipeline_over_in_process_cpu"] = round(
        figures["pipeline_periods_per_cpu_second"] / bare_cpu, 3
    )
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    figures["pipeline_over_in_process"] = round(figures["sustained_periods_per_second"] / bare, 3)
    if workers == 1:
        figures["faust_floor_over_in_process"] = round(
            figures["faust_floor_periods_per_second"] / bare, 3
        )
    figures["workers"] = workers
    figures["instances"] = instances
    figures["periods_per_record"] = periods_per_record
    figures["batch_size"] = settings.detector.batch_size
    figures["store"] = settings.detector.store
    figures["logs"] = str(logs)
    return figures
