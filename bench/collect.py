"""The polling benchmark: what watching a fleet costs under each policy, and how late verdicts come.

A trace fleet is replayed as the collector would see it. The first ``history_days`` are
the account's backfill (one poll, every metric). From then on the simulation steps the
collector's cycle (5 minutes); an instance is polled when its policy says it is due, and
a poll returns every point of the requested metrics that has settled (``settle_s``
after its period ended) since the previous poll. Only then do the points reach the
detector's model, through :func:`detector.scoring.score_and_learn` with the per-instance
state travelling as it does on the stream; the verdict time is the poll time.

For each policy: GetMetricData calls (batches of up to 500 queries per account and
region) and metrics requested, dollars per 1,000 instances per month
($0.01 per 1,000 metrics requested), and the end-to-end time from ``idle_since`` to the
first idle verdict (median and 90th percentile) over the instances that go idle in the
live period, plus the instances given an idle verdict too early (before ``idle_since``, or
never idle), from the backfill on. Only alertable verdicts count, as the worker settles them
(:mod:`detector.liveness`): an idle verdict on a period behind the live edge, or a provisional
one (too little history), never alerts.

>>> from sandbox.fleet.generator import FleetSpec, generate_fleet
>>> fleet = generate_fleet(FleetSpec(seed=5, instances=6, days=2, history_days=1))
>>> [r.policy for r in run_benchmark(fleet, ["naive", "hourly"], history_days=1)]
['naive', 'hourly']
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench import quantile
from detector.liveness import at_live_edge, settle
from detector.scoring import InstanceModel, Point, Verdict, score_and_learn
from ingest.metrics import GET_METRIC_DATA_USD_PER_METRIC
from ingest.polling import ALL_METRICS, FIELDS, PollingPolicy, get_policy, next_tier
from sandbox.fleet.model import STEP, STEP_SECONDS, Fleet, Trace
from spendsense.settings import DetectorSettings

DAYS_PER_MONTH = 365.25 / 12
MAX_QUERIES = 500
LIVE_EDGE_S = DetectorSettings().live_edge_s


@dataclass
class PolicyReport:
    """One policy's figures over the live period."""

    policy: str
    instances: int
    live_days: float
    calls: int = 0
    metrics_requested: int = 0
    idle: int = 0
    ttd_minutes: list[float] = field(default_factory=list, repr=False)
    false_verdicts: int = 0
    seconds: float = 0.0
    by_tier: Counter[str] = field(default_factory=Counter)

    @property
    def usd_per_1000_month(self) -> float:
        """GetMetricData dollars per 1,000 instances per 30.4-day month."""
        per_instance_day = self.metrics_requested / self.instances / self.live_days
        return per_instance_day * DAYS_PER_MONTH * 1000 * GET_METRIC_DATA_USD_PER_METRIC

    def ttd(self, q: float) -> float | None:
        """Minutes from ``idle_since`` to the idle verdict at quantile ``q``."""
        return quantile(self.ttd_minutes, q)

    def as_dict(self) -> dict[str, object]:
        """The figures as JSON-ready values."""
        return {
            "policy": self.policy,
            "instances": self.instances,
            "live_days": round(self.live_days, 2),
            "calls": self.calls,
            "metrics_requested": self.metrics_requested,
            "usd_per_1000_instances_month": round(self.usd_per_1000_month, 2),
            "idle_in_live_period": self.idle,
            "detected": len(self.ttd_minutes),
            "ttd_median_minutes": self.ttd(0.5),
            "ttd_p90_minutes": self.ttd(0.9),
            "false_verdicts": self.false_verdicts,
            "metrics_by_tier": dict(self.by_tier),
            "seconds": round(self.seconds, 1),
        }


@dataclass
class _Watched:
    """One instance as the simulated collector and detector hold it."""

    iid: str
    group: tuple[str, str]
    trace: Trace
    idle_since: datetime | None
    cursor: int  # index of the next point not yet polled
    state: bytes | None
    history: list[Point] = field(default_factory=list)
    tier: str = "new"
    quiet_since: datetime | None = None
    next_poll: datetime = datetime.min
    verdict_at: datetime | None = None
    false_verdict: bool = False


def _points(trace: Trace, start: int, end: int, metrics: tuple[str, ...]) -> list[Point]:
    columns = {f: getattr(trace, f) for f in FIELDS.values()}
    wanted = {FIELDS[m] for m in metrics}
    return [
        Point(
            trace.timestamp_at(i),
            *(float(columns[f][i]) if f in wanted else None for f in FIELDS.values()),
        )
        for i in range(start, end)
    ]


def _alertable(verdict: Verdict, period: datetime, now: datetime) -> bool:
    """Whether the worker, judging ``period`` at ``now``, would let ``verdict`` alert."""
    live = at_live_edge(period, STEP_SECONDS, now, LIVE_EDGE_S)
    return settle(verdict.idle, verdict.provisional, live)[0]


def _note_alerts(w: _Watched, points: list[Point], verdicts: list[Verdict], now: datetime) -> None:
    """Note ``w``'s alertable verdicts given at ``now``: false ones, and the first true one."""
    for point, verdict in zip(points, verdicts, strict=True):
        if not _alertable(verdict, point.timestamp, now):
            continue
        if w.idle_since is None or point.timestamp < w.idle_since:
            w.false_verdict = True
        elif w.verdict_at is None:
            w.verdict_at = now


def _settled(trace: Trace, now: datetime, settle: timedelta) -> int:
    """Index one past the last point whose period ended ``settle`` before ``now``."""
    return max(0, min(len(trace), trace.index_at(now - settle - STEP) + 1))


def _backfill(fleet: Fleet, live_start: datetime, settle: timedelta) -> dict[str, _Watched]:
    """Every instance's first poll at the start of the live period (all metrics)."""
    template = InstanceModel()
    watched = {}
    for iid, trace in fleet.traces.items():
        inst = fleet.instances[iid]
        end = _settled(trace, live_start, settle)
        points = _points(trace, 0, end, ALL_METRICS)
        verdicts, state = score_and_learn(None, points, template) if points else ([], None)
        w = _Watched(
            iid,
            (inst.account_id, inst.region),
            trace,
            fleet.labels.get(iid),
            end,
            state,
            history=points[-12:],
        )
        _note_alerts(w, points, verdicts, live_start)
        watched[iid] = w
    return watched


def simulate(
    fleet: Fleet,
    policy: PollingPolicy,
    live_start: datetime,
    base: dict[str, _Watched],
    settle: timedelta = timedelta(minutes=10),
    cycle: timedelta = timedelta(minutes=5),
) -> PolicyReport:
    """Replay the live period under ``policy`` from the shared backfill ``base``."""
    began = time.perf_counter()
    template = InstanceModel()
    end_time = fleet.end + settle + STEP
    report = PolicyReport(policy.name, len(base), (fleet.end - live_start) / timedelta(days=1))
    watched = []
    for b in base.values():
        w = _Watched(b.iid, b.group, b.trace, b.idle_since, b.cursor, b.state)
        w.false_verdict, w.verdict_at = b.false_verdict, b.verdict_at
        w.tier, w.quiet_since = next_tier(policy, "new", None, b.history, live_start)
        w.next_poll = live_start + timedelta(seconds=policy.plan(w.tier).interval_s)
        watched.append(w)
        if w.idle_since is not None and w.idle_since >= live_start:
            report.idle += 1
    now = live_start
    while now <= end_time:
        queries: Counter[tuple[str, str]] = Counter()
        for w in watched:
            if w.next_poll > now or w.cursor >= len(w.trace):
                continue
            end = _settled(w.trace, now, settle)
            if end <= w.cursor:
                continue
            plan = policy.plan(w.tier)
            queries[w.group] += len(plan.metrics)
            report.by_tier[w.tier] += len(plan.metrics)
            points = _points(w.trace, w.cursor, end, plan.metrics)
            w.cursor = end
            verdicts, w.state = score_and_learn(w.state, points, template)
            _note_alerts(w, points, verdicts, now)
            w.tier, w.quiet_since = next_tier(policy, w.tier, w.quiet_since, points, now)
            w.next_poll = now + timedelta(seconds=policy.plan(w.tier).interval_s)
        report.metrics_requested += sum(queries.values())
        report.calls += sum(math.ceil(n / MAX_QUERIES) for n in queries.values())
        now += cycle
    for w in watched:
        report.false_verdicts += w.false_verdict
        if w.verdict_at is not None and w.idle_since is not None and w.idle_since >= live_start:
            report.ttd_minutes.append((w.verdict_at - w.idle_since) / timedelta(minutes=1))
    report.seconds = time.perf_counter() - began
    return report


def run_benchmark(
    fleet: Fleet, policies: list[str], history_days: float = 14.0
) -> list[PolicyReport]:
    """Every named policy over the live period after ``history_days`` of backfill."""
    live_start = fleet.start + timedelta(days=history_days)
    settle = timedelta(minutes=10)
    base = _backfill(fleet, live_start, settle)
    return [simulate(fleet, get_policy(name), live_start, base, settle) for name in policies]
