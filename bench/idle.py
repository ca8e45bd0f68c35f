"""The idle benchmark: what a user receives from the first minute of onboarding, on a trace fleet.

Onboarding is replayed as it happens. The account is connected at ``T0`` (the fleet's start
plus ``history_days``): the collector backfills every point settled by then at once, and the
judge (the model, or an anchor rule) learns them in time order, each verdict judged with
``now = T0``. After ``T0`` a point reaches the judge once it has settled: ``now`` is its
period's end plus ``settle_s``; an instance launched later starts live. Every verdict then
goes through the worker's rule (:mod:`detector.liveness`): idle on a period that ended more
than ``live_edge_s`` before ``now`` is provisional, so of the backfill only its last hours may
alert. Instances are independent, so each is replayed on its own, start to end.

What the user would receive follows the alert and auto-stop services (:mod:`actions`):

* an **alert** (an email) is an alertable idle verdict that starts an idle episode: the
  instance was not alerted since it was last given a verdict that was not idle (provisional
  included, as :meth:`actions.alerts.AlertService.observe` counts it busy). The alert is
  **false** when its period was not idle: label ``null``, or the period before ``idle_since``;
* an **auto-stop** follows an alert when the verdicts stay idle until one at or after the end of
  the grace period (a new tenant's, 60 minutes); it is **false** when the instance is not idle
  yet at that moment. Safety rails (ASG, spot, instance store) are not applied;
* **recall**: idle instances given a true alert; **precision**: alerted instances whose alerts
  were all true; **time to detect**: minutes from ``idle_since`` to the email of the first true
  alert, over the instances going idle at or after ``T0``, split into *drops* (active before
  ``idle_since``) and *since launch* (idle from their first point).

The anchor rules of :mod:`bench.anchors` are scored by the same replay.

>>> from sandbox.fleet.generator import FleetSpec, generate_fleet
>>> fleet = generate_fleet(FleetSpec(seed=5, instances=8, days=3, history_days=2))
>>> report = run_benchmark(fleet, Onboarding.after(fleet, history_days=2))
>>> report.model.overall.instances, report.records == sum(len(t) for t in fleet.traces.values())
(8, True)
>>> sorted(report.anchors)
['cpu-average-under-5', 'trusted-advisor']
"""

from __future__ import annotations

import bisect
import resource
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import inspect
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from bench import format_table, quantile
from bench.anchors import ANCHORS
from detector.liveness import at_live_edge, settle
from detector.scoring import InstanceModel, Point
from sandbox.fleet.model import STEP, STEP_SECONDS, Fleet, Trace
from spendsense.settings import DetectorSettings, IngestSettings
from spendsense.store.models import Tenant

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STATUSES = ("active", "provisional", "idle")
"""A judge's statuses; their index is the status code used in the replay's arrays."""
ACTIVE, PROVISIONAL, IDLE = range(len(STATUSES))
_CODE = {status: code for code, status in enumerate(STATUSES)}


class Judge(Protocol):
    """What the replay drives: the model's interface (:class:`detector.scoring.InstanceModel`)."""

    def learn_one(self, x: Point) -> None:
        """Learn one point (time order)."""

    def status(self) -> str:
        """``idle``, ``provisional`` or ``active`` after the last learnt point."""


def default_grace_minutes() -> int:
    """The auto-stop grace period a new tenant gets (the store's default for the column).

    >>> default_grace_minutes()
    60
    """
    default = inspect(Tenant).columns["autostop_grace_minutes"].default
    if not isinstance(default, ScalarElementColumnDefault):
        raise TypeError("tenants.autostop_grace_minutes has no scalar default")
    return int(default.arg)


def _settled_codes() -> npt.NDArray[np.int8]:
    """:func:`detector.liveness.settle` as a table: ``[status code, live]`` -> settled code."""
    table = np.zeros((len(STATUSES), 2), dtype=np.int8)
    for code, status in enumerate(STATUSES):
        for live in (False, True):
            idle, provisional = settle(status == "idle", status == "provisional", live)
            table[code, int(live)] = IDLE if idle else PROVISIONAL if provisional else ACTIVE
    return table


_SETTLED = _settled_codes()


@dataclass(frozen=True)
class Onboarding:
    """When the account is connected (``T0``) and how its points reach the detector."""

    connected: datetime
    settle_s: int = IngestSettings().settle_s
    """A period is collected this long after it ended."""
    live_edge_s: float = DetectorSettings().live_edge_s
    """An idle verdict alerts only on a period that ended at most this long before it is judged."""
    grace_s: float = 60.0 * default_grace_minutes()
    """The auto-stop grace period."""

    @classmethod
    def after(cls, fleet: Fleet, history_days: float = 14.0, **delays: Any) -> Onboarding:
        """Connected ``history_days`` after the fleet's first point; ``delays`` as the fields."""
        return cls(fleet.start + timedelta(days=history_days), **delays)

    def judged_at(self, periods: IntArray) -> IntArray:
        """When each period (start, epoch seconds) is judged: the backfill at ``T0``, later ones
        once settled.

        >>> t0 = datetime(2026, 11, 15, tzinfo=UTC)
        >>> on = Onboarding(t0, settle_s=600)
        >>> (on.judged_at(np.array([-86_400, -600, 0, 3_600]) + int(t0.timestamp()))
        ...  - int(t0.timestamp())).tolist()
        [0, 300, 900, 4500]
        """
        return np.maximum(int(self.connected.timestamp()), periods + STEP_SECONDS + self.settle_s)

    def first_live(self, periods: IntArray, judged: IntArray) -> int:
        """Index of the first period at the live edge when judged; every later one is too (the
        time from a period's end to its judging never grows along a trace).

        >>> t0 = datetime(2026, 11, 15, tzinfo=UTC)
        >>> on = Onboarding(t0, settle_s=600, live_edge_s=3_600)
        >>> periods = int(t0.timestamp()) + 300 * np.arange(-24, 6)
        >>> on.first_live(periods, on.judged_at(periods))    # ended at most an hour before T0
        11
        """

        def live(i: int) -> bool:
            period, now = (datetime.fromtimestamp(int(t), UTC) for t in (periods[i], judged[i]))
            return at_live_edge(period, STEP_SECONDS, now, self.live_edge_s)

        return bisect.bisect_left(range(len(periods)), True, key=live)


@dataclass(frozen=True)
class Alert:
    """One email about an instance (times in epoch seconds)."""

    period: int
    """Start of the period whose verdict alerted."""
    at: int
    """When the verdict was given (and the email would go)."""
    true: bool
    """The instance was idle in that period."""
    stopped_at: int | None
    """When auto-stop would stop it (the verdicts stayed idle through the grace period)."""
    false_stop: bool
    """Stopped while not idle yet."""


@dataclass(frozen=True)
class Outcome:
    """What one instance's user received."""

    kind: str
    idle_since: int | None
    """Epoch seconds of the label (``None``: never idle)."""
    since_launch: bool
    """Idle from its first point."""
    alerts: tuple[Alert, ...]
    provisional: bool
    """Shown provisional at least once."""

    @property
    def first_true(self) -> Alert | None:
        """The first true alert."""
        return next((a for a in self.alerts if a.true), None)


def _alerts(
    periods: IntArray,
    judged: IntArray,
    alertable: BoolArray,
    idle_since: int | None,
    grace_s: float,
) -> tuple[Alert, ...]:
    """The alerts of one instance: the starts of its runs of alertable verdicts."""

    def idle_at(when: int) -> bool:
        return idle_since is not None and when >= idle_since

    starts = np.flatnonzero(alertable & ~np.concatenate(([False], alertable[:-1])))
    breaks = np.flatnonzero(~alertable)
    alerts = []
    for start in starts.tolist():
        after = int(np.searchsorted(breaks, start))
        run_end = int(breaks[after]) if after < len(breaks) else len(alertable)
        stop = max(start + 1, int(np.searchsorted(judged, judged[start] + grace_s)))
        stopped_at = int(judged[stop]) if stop < run_end else None
        alerts.append(
            Alert(
                int(periods[start]),
                int(judged[start]),
                idle_at(int(periods[start])),
                stopped_at,
                stopped_at is not None and not idle_at(stopped_at),
            )
        )
    return tuple(alerts)


def outcome(
    kind: str, trace: Trace, label: datetime | None, statuses: Sequence[str], on: Onboarding
) -> Outcome:
    """What the user receives from one instance's statuses (one per point, in order).

    >>> t0 = datetime(2026, 11, 15, tzinfo=UTC)
    >>> trace = Trace(t0 - timedelta(days=1), *np.zeros((3, 288 + 36)))
    >>> o = outcome("demo", trace, None, ["idle"] * len(trace), Onboarding(t0))
    >>> len(o.alerts), o.alerts[0].at == int(t0.timestamp()), o.alerts[0].true, o.provisional
    (1, True, False, True)
    """
    periods = int(trace.start.timestamp()) + STEP_SECONDS * np.arange(len(trace), dtype=np.int64)
    judged = on.judged_at(periods)
    live = np.arange(len(trace)) >= on.first_live(periods, judged)
    codes = np.fromiter(map(_CODE.__getitem__, statuses), dtype=np.int8, count=len(statuses))
    settled = _SETTLED[codes, live.astype(np.int8)]
    idle_since = None if label is None else int(label.timestamp())
    return Outcome(
        kind,
        idle_since,
        idle_since is not None and idle_since <= periods[0],
        _alerts(periods, judged, settled == IDLE, idle_since, on.grace_s),
        bool((settled == PROVISIONAL).any()),
    )


def _statuses(judge: Judge, points: Sequence[Point]) -> list[str]:
    """Feed ``points`` to ``judge`` in order; its status after each."""
    learn, status = judge.learn_one, judge.status
    out = []
    for point in points:
        learn(point)
        out.append(status())
    return out


@dataclass(frozen=True)
class Replay:
    """Outcomes per instance, and what the replay cost."""

    outcomes: dict[str, Outcome]
    records: int
    seconds: float
    cpu_seconds: float
    judge_cpu_seconds: float
    """CPU time inside the judges alone (``learn_one`` and ``status``)."""


def replay(fleet: Fleet, new_judge: Callable[[], Judge], on: Onboarding) -> Replay:
    """Replay every instance's points through its own judge and settle what it was told."""
    grid = [fleet.start + STEP * i for i in range(int((fleet.end - fleet.start) / STEP) + 1)]
    outcomes, records, judge_cpu = {}, 0, 0.0
    began, began_cpu = time.perf_counter(), time.process_time()
    for iid, trace in fleet.traces.items():
        offset = int((trace.start - fleet.start) / STEP)
        points = list(
            map(
                Point,
                grid[offset : offset + len(trace)],
                trace.cpu_percent.tolist(),
                trace.network_in_bytes.tolist(),
                trace.network_out_bytes.tolist(),
            )
        )
        judging = time.process_time()
        statuses = _statuses(new_judge(), points)
        judge_cpu += time.process_time() - judging
        records += len(points)
        kind = fleet.instances[iid].kind
        outcomes[iid] = outcome(kind, trace, fleet.labels.get(iid), statuses, on)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    return Replay(outcomes, records, seconds, cpu_seconds, judge_cpu)


@dataclass(frozen=True)
class KindStats:
    """Scores over a group of instances (one workload kind, or all)."""

    instances: int
    idle: int
    detected: int
    alerted: int
    false_alert_instances: int
    alerts: int
    false_alerts: int
    autostops: int
    false_autostops: int
    provisional: int
    ttd_drops: list[float]
    ttd_since_launch: list[float]

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], connected: datetime) -> KindStats:
        """Count ``outcomes``; times to detect over instances going idle at or after ``connected``."""
        t0 = connected.timestamp()
        alerts = [a for o in outcomes for a in o.alerts]
        ttd: dict[bool, list[float]] = {True: [], False: []}
        for o in outcomes:
            first = o.first_true
            if first is not None and o.idle_since is not None and o.idle_since >= t0:
                ttd[o.since_launch].append((first.at - o.idle_since) / 60)
        return cls(
            instances=len(outcomes),
            idle=sum(o.idle_since is not None for o in outcomes),
            detected=sum(o.first_true is not None for o in outcomes),
            alerted=sum(bool(o.alerts) for o in outcomes),
            false_alert_instances=sum(any(not a.true for a in o.alerts) for o in outcomes),
            alerts=len(alerts),
            false_alerts=sum(not a.true for a in alerts),
            autostops=sum(a.stopped_at is not None for a in alerts),
            false_autostops=sum(a.false_stop for a in alerts),
            provisional=sum(o.provisional for o in outcomes),
            ttd_drops=ttd[False],
            ttd_since_launch=ttd[True],
        )

    @property
    def recall(self) -> float | None:
        """Idle instances given a true alert over idle instances (``None`` with none idle)."""
        return self.detected / self.idle if self.idle else None

    @property
    def precision(self) -> float | None:
        """Alerted instances whose alerts were all true over alerted instances."""
        return (self.alerted - self.false_alert_instances) / self.alerted if self.alerted else None

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""

        def times(minutes: list[float]) -> dict[str, Any]:
            return {"n": len(minutes), "p50": quantile(minutes, 0.5), "p90": quantile(minutes, 0.9)}

        return {
            "instances": self.instances,
            "idle": self.idle,
            "detected": self.detected,
            "recall": self.recall,
            "alerted": self.alerted,
            "false_alert_instances": self.false_alert_instances,
            "precision": self.precision,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "autostops": self.autostops,
            "false_autostops": self.false_autostops,
            "provisional_instances": self.provisional,
            "ttd_minutes": {
                "drops": times(self.ttd_drops),
                "since_launch": times(self.ttd_since_launch),
            },
        }


@dataclass(frozen=True)
class Scores:
    """One judge's scores per workload kind and over the whole fleet."""

    per_kind: dict[str, KindStats]
    overall: KindStats

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], connected: datetime) -> Scores:
        """Group ``outcomes`` by kind."""
        by_kind: dict[str, list[Outcome]] = {}
        for o in outcomes:
            by_kind.setdefault(o.kind, []).append(o)
        return cls(
            {k: KindStats.of(v, connected) for k, v in sorted(by_kind.items())},
            KindStats.of(outcomes, connected),
        )

    def as_dict(self) -> dict[str, Any]:
        """``overall`` and ``per_kind`` as JSON-ready values."""
        return {
            "overall": self.overall.as_dict(),
            "per_kind": {k: v.as_dict() for k, v in self.per_kind.items()},
        }


def fleet_facts(fleet: Fleet) -> dict[str, Any]:
    """What the fleet is: folder, size, span, idle labels and instances per kind."""
    return {
        "path": str(fleet.path) if fleet.path else None,
        "instances": len(fleet.instances),
        "idle": sum(label is not None for label in fleet.labels.values()),
        "start": fleet.start.isoformat(),
        "end": fleet.end.isoformat(),
        "days": round((fleet.end + STEP - fleet.start) / timedelta(days=1), 2),
        "kinds": dict(sorted(Counter(i.kind for i in fleet.instances.values()).items())),
    }


@dataclass(frozen=True)
class IdleReport:
    """The benchmark's result: the model's scores, the anchors', and what the replay cost."""

    fleet: dict[str, Any]
    onboarding: Onboarding
    model: Scores
    anchors: dict[str, Scores]
    anchor_rules: dict[str, str]
    records: int
    seconds: float
    cpu_seconds: float
    model_cpu_seconds: float
    peak_rss_mb: float
    state_bytes_max: int
    state_bytes_mean: float

    def throughput(self) -> dict[str, float]:
        """Records, times and rates of the model's replay; memory and state sizes."""
        return {
            "records": self.records,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "records_per_second": round(self.records / self.seconds),
            "records_per_cpu_second": round(self.records / self.cpu_seconds),
            "model_records_per_cpu_second": round(self.records / self.model_cpu_seconds),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "state_bytes_max": self.state_bytes_max,
            "state_bytes_mean": round(self.state_bytes_mean, 1),
        }

    def as_dict(self) -> dict[str, Any]:
        """Every figure as JSON-ready values (the machine and date are added on writing)."""
        on = self.onboarding
        return {
            "fleet": self.fleet,
            "onboarding": {
                "connected": on.connected.isoformat(),
                "settle_s": on.settle_s,
                "live_edge_s": on.live_edge_s,
                "autostop_grace_minutes": on.grace_s / 60,
            },
            **self.model.as_dict(),
            "anchors": {
                name: {"rule": self.anchor_rules[name], **scores.as_dict()}
                for name, scores in self.anchors.items()
            },
            "throughput": self.throughput(),
        }


def run_benchmark(
    fleet: Fleet, onboarding: Onboarding, template: InstanceModel | None = None
) -> IdleReport:
    """Replay ``fleet`` through the model (``template``'s parameters) and the anchor rules."""
    models: list[InstanceModel] = []

    def new_model() -> InstanceModel:
        models.append((template or InstanceModel()).clone())
        return models[-1]

    run = replay(fleet, new_model, onboarding)
    anchors = {
        anchor.name: Scores.of(
            list(replay(fleet, anchor, onboarding).outcomes.values()), onboarding.connected
        )
        for anchor in ANCHORS
    }
    sizes = [len(m.to_bytes()) for m in models]
    return IdleReport(
        fleet=fleet_facts(fleet),
        onboarding=onboarding,
        model=Scores.of(list(run.outcomes.values()), onboarding.connected),
        anchors=anchors,
        anchor_rules={anchor.name: anchor.rule for anchor in ANCHORS},
        records=run.records,
        seconds=run.seconds,
        cpu_seconds=run.cpu_seconds,
        model_cpu_seconds=run.judge_cpu_seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        state_bytes_max=max(sizes),
        state_bytes_mean=sum(sizes) / len(sizes),
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _times(minutes: list[float]) -> str:
    p50, p90 = quantile(minutes, 0.5), quantile(minutes, 0.9)
    return "-" if p50 is None or p90 is None else f"{p50:.0f} / {p90:.0f}"


def _row(name: str, s: KindStats, anchors: list[KindStats]) -> list[str]:
    return [
        name,
        str(s.instances),
        str(s.idle),
        _ratio(s.recall),
        _ratio(s.precision),
        str(s.false_alerts),
        str(s.false_autostops),
        _times(s.ttd_drops),
        _times(s.ttd_since_launch),
        str(s.provisional),
        *(f"{_ratio(a.recall)} / {_ratio(a.precision)} / {a.false_alerts}" for a in anchors),
    ]


def table(report: IdleReport, markdown: bool = False) -> str:
    """Per kind and overall: the model's scores, then each anchor's recall / precision / false
    alerts; aligned text, or a markdown table for the README."""
    headers = [
        "kind",
        "instances",
        "idle",
        "recall",
        "precision",
        "false alerts",
        "false auto-stops",
        "ttd drops p50 / p90",
        "ttd since launch p50 / p90",
        "provisional",
        *(f"{name}: recall / precision / false" for name in report.anchors),
    ]
    rows = [
        _row(kind, stats, [a.per_kind[kind] for a in report.anchors.values()])
        for kind, stats in report.model.per_kind.items()
    ]
    rows.append(_row("overall", report.model.overall, [a.overall for a in report.anchors.values()]))
    return format_table(headers, rows, markdown)
