"""The idle benchmark: replay a trace fleet through the model and score its idle verdicts.

Every instance's points go through its own :class:`~detector.scoring.InstanceModel` in event-time
order (all instances step by step on the 5-minute grid), offline, with no broker. The first
``history_days`` of the fleet are history: the model learns from them and its verdicts there are
reported but not scored (the sandbox shows that much history before it goes live, as Trusted
Advisor and Cost Explorer look back 14 days). From then on (*live*):

* an instance is **flagged** when it gets an idle verdict; the flag is **false** when the
  instance is never idle (label ``null``) or the verdict comes before its ``idle_since``;
* **recall**: idle instances that get an idle verdict at or after ``idle_since``;
  **precision**: flagged instances whose verdicts are all true;
* **time to detect**: from ``idle_since`` to the first idle verdict, over the instances that
  go idle during the live period (those idle before it are in recall, not in these times).

>>> from sandbox.fleet.generator import FleetSpec, generate_fleet
>>> fleet = generate_fleet(FleetSpec(seed=5, instances=8, days=3, history_days=1))
>>> report = run_benchmark(fleet, history_days=1)
>>> report.overall.instances, report.records == sum(len(t) for t in fleet.traces.values())
(8, True)
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench import quantile
from detector.scoring import InstanceModel, Point
from sandbox.fleet.model import STEP, Fleet


@dataclass
class Outcome:
    """What happened to one instance during the replay."""

    kind: str
    idle_since: datetime | None
    first_true: datetime | None = None
    """First live idle verdict at or after ``idle_since``."""
    false_live: bool = False
    """An idle verdict in the live period before ``idle_since`` (or on a never-idle one)."""
    false_history: bool = False
    """The same during the history period (reported, not scored)."""
    state_bytes: int = 0


@dataclass(frozen=True)
class KindStats:
    """Scores over a group of instances (one workload kind, or all)."""

    instances: int
    idle: int
    detected: int
    flagged: int
    false_flags: int
    false_on_never_idle: int
    false_in_history: int
    ttd_minutes: list[float] = field(repr=False)

    @property
    def recall(self) -> float | None:
        """Detected idle instances over idle instances (``None`` with no idle instance)."""
        return self.detected / self.idle if self.idle else None

    @property
    def precision(self) -> float | None:
        """Truly flagged over flagged instances (``None`` when nothing was flagged)."""
        return (self.flagged - self.false_flags) / self.flagged if self.flagged else None

    def ttd(self, q: float) -> float | None:
        """Time to detect in minutes at quantile ``q`` (0.5 median, 0.9 p90)."""
        return quantile(self.ttd_minutes, q)

    def as_dict(self) -> dict[str, float | int | None]:
        """The figures as JSON-ready values."""
        return {
            "instances": self.instances,
            "idle": self.idle,
            "detected": self.detected,
            "flagged": self.flagged,
            "false_flags": self.false_flags,
            "false_on_never_idle": self.false_on_never_idle,
            "false_in_history": self.false_in_history,
            "recall": self.recall,
            "precision": self.precision,
            "ttd_median_minutes": self.ttd(0.5),
            "ttd_p90_minutes": self.ttd(0.9),
        }


@dataclass(frozen=True)
class IdleReport:
    """The benchmark's result."""

    live_start: datetime
    per_kind: dict[str, KindStats]
    overall: KindStats
    records: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    state_bytes_max: int
    state_bytes_mean: float

    @property
    def records_per_second(self) -> float:
        """Points scored and learnt per second of replay (wall clock)."""
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def records_per_cpu_second(self) -> float:
        """Points per second of this process's CPU time (what a shared machine hides)."""
        return self.records / self.cpu_seconds if self.cpu_seconds else 0.0


def _stats(outcomes: list[Outcome], live_start: datetime) -> KindStats:
    idle = [o for o in outcomes if o.idle_since is not None]
    detected = [o for o in idle if o.first_true is not None]
    flagged = [o for o in outcomes if o.first_true is not None or o.false_live]
    ttd = [
        (o.first_true - o.idle_since) / timedelta(minutes=1)
        for o in detected
        if o.first_true is not None and o.idle_since is not None and o.idle_since >= live_start
    ]
    return KindStats(
        instances=len(outcomes),
        idle=len(idle),
        detected=len(detected),
        flagged=len(flagged),
        false_flags=sum(o.false_live for o in outcomes),
        false_on_never_idle=sum(o.false_live for o in outcomes if o.idle_since is None),
        false_in_history=sum(o.false_history for o in outcomes),
        ttd_minutes=ttd,
    )


def replay(
    fleet: Fleet, template: InstanceModel, live_start: datetime
) -> tuple[dict[str, Outcome], int, float, float]:
    """Feed every point in event-time order: outcomes, records fed, wall and CPU seconds."""
    first = fleet.start
    steps = int((fleet.end - first) / STEP) + 1
    columns = {
        iid: (
            int((trace.start - first) / STEP),
            trace.cpu_percent.tolist(),
            trace.network_in_bytes.tolist(),
            trace.network_out_bytes.tolist(),
        )
        for iid, trace in fleet.traces.items()
    }
    models = {iid: template.clone() for iid in columns}
    outcomes = {iid: Outcome(fleet.instances[iid].kind, fleet.labels.get(iid)) for iid in columns}
    records = 0
    began, began_cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        now = first + STEP * step
        live = now >= live_start
        for iid, (offset, cpu, net_in, net_out) in columns.items():
            k = step - offset
            if k < 0 or k >= len(cpu):
                continue
            model = models[iid]
            model.learn_one(Point(now, cpu[k], net_in[k], net_out[k]))
            records += 1
            if not model.is_idle():
                continue
            outcome = outcomes[iid]
            truly = outcome.idle_since is not None and now >= outcome.idle_since
            if not live:
                outcome.false_history |= not truly
            elif not truly:
                outcome.false_live = True
            elif outcome.first_true is None:
                outcome.first_true = now
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    for iid, model in models.items():
        outcomes[iid].state_bytes = len(model.to_bytes())
    return outcomes, records, seconds, cpu_seconds


def run_benchmark(
    fleet: Fleet, history_days: float = 14.0, template: InstanceModel | None = None
) -> IdleReport:
    """Replay ``fleet`` and score the live period after ``history_days``."""
    live_start = fleet.start + timedelta(days=history_days)
    outcomes, records, seconds, cpu_seconds = replay(fleet, template or InstanceModel(), live_start)
    by_kind: dict[str, list[Outcome]] = {}
    for outcome in outcomes.values():
        by_kind.setdefault(outcome.kind, []).append(outcome)
    sizes = [o.state_bytes for o in outcomes.values()]
    return IdleReport(
        live_start=live_start,
        per_kind={k: _stats(v, live_start) for k, v in sorted(by_kind.items())},
        overall=_stats(list(outcomes.values()), live_start),
        records=records,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        state_bytes_max=max(sizes),
        state_bytes_mean=sum(sizes) / len(sizes),
    )
