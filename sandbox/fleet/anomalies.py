"""Labelled usage anomalies, added to some never-idle instances of a generated fleet.

Each kind changes a trace in place over a window and returns its label
(:class:`~sandbox.fleet.model.AnomalyWindow`), or ``None`` when the instance cannot show it
(:data:`ANOMALY_KINDS`):

- ``egress-surge``: network out rises by 3-40 MB/s (and at least three times the instance's
  busiest 1 % of points) for 1-6 hours: a backup gone to the internet, an exfiltration;
- ``runaway-cpu``: a process pins CPU at 92-100 % for 4-36 hours, on an instance whose CPU
  rarely passes 70 %;
- ``nightly-all-day``: a nightly batch's run goes on for 12-20 hours past its usual end, at
  its usual level (a nightly-batch instance only); the window is the overrun;
- ``night-activity``: something new at 03:00 local, where nights are quiet: CPU up 30-60
  points and 1-5 MB/s out for 1-3 hours (a possible compromise).

A window lies after the sandbox's history (``Context.history``: what a just-connected
account backfills) and after the instance's first week, so a detector has seen its pattern;
it ends before the trace does.

>>> import numpy as np
>>> from sandbox.fleet.workloads import Clock, Context, KINDS
>>> ctx = Context(np.random.default_rng(4), Clock(0, 288 * 10), 0.0, 288 * 8)
>>> work = KINDS["nightly-batch"](ctx)
>>> label = add_anomaly(np.random.default_rng(5), "nightly-batch", work, ctx)
>>> label.kind, label.metric, 12 <= label.hours <= 20, label.added_cpu > 30
('nightly-all-day', 'cpu_percent', True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from sandbox.fleet.model import STEP_SECONDS, AnomalyWindow
from sandbox.fleet.workloads import MB, POINTS_PER_DAY, POINTS_PER_HOUR, Context, Workload

WEEK_POINTS = 7 * POINTS_PER_DAY
QUIET_NIGHTS = ("web-diurnal", "steady-service", "internal-service", "dev-weekdays", "steady-proxy")
"""Kinds whose nights are quiet enough for new activity at 3 a.m. to be new."""


def _earliest(ctx: Context) -> int:
    """The first point a window may start at: an hour past the history and the first week."""
    return max(ctx.history, WEEK_POINTS) + POINTS_PER_HOUR


def _when(ctx: Context, point: int) -> datetime:
    return datetime.fromtimestamp(ctx.clock.first + point * STEP_SECONDS, tz=UTC)


def _place(rng: np.random.Generator, ctx: Context, hours: tuple[float, float]) -> slice | None:
    """A window of ``hours`` in the live part of the trace, or None when it does not fit."""
    length = int(rng.uniform(*hours) * POINTS_PER_HOUR)
    earliest, n = _earliest(ctx), ctx.clock.points
    if n - length <= earliest:
        return None
    start = int(rng.integers(earliest, n - length))
    return slice(start, start + length)


def _label(
    ctx: Context, kind: str, metric: str, at: slice, added_cpu: float, added_out: float
) -> AnomalyWindow:
    return AnomalyWindow(
        kind,
        metric,
        _when(ctx, at.start),
        _when(ctx, at.stop),
        round(added_cpu, 3),
        round(added_out),
    )


def egress_surge(rng: np.random.Generator, work: Workload, ctx: Context) -> AnomalyWindow | None:
    """Network out up by 3-40 MB/s, at least three times its busiest 1 %, for 1-6 hours."""
    at = _place(rng, ctx, (1.0, 6.0))
    if at is None:
        return None
    busiest = float(np.quantile(work.net_out[: at.start], 0.99)) / STEP_SECONDS
    rate = max(float(np.exp(rng.uniform(np.log(3 * MB), np.log(40 * MB)))), 3 * busiest)
    added = rate * STEP_SECONDS * rng.uniform(0.85, 1.15, at.stop - at.start)
    work.net_out[at] += added
    return _label(ctx, "egress-surge", "network_out_bytes", at, 0.0, float(added.mean()))


def runaway_cpu(rng: np.random.Generator, work: Workload, ctx: Context) -> AnomalyWindow | None:
    """CPU pinned at 92-100 % for 4-36 hours, where it rarely passes 70 %."""
    at = _place(rng, ctx, (4.0, 36.0))
    if at is None or np.quantile(work.cpu[: at.start], 0.99) >= 70.0:
        return None
    pinned = np.clip(rng.uniform(92.0, 99.0) + rng.normal(0.0, 1.0, at.stop - at.start), 0, 100)
    before = work.cpu[at].copy()
    work.cpu[at] = np.maximum(before, pinned)
    return _label(ctx, "runaway-cpu", "cpu_percent", at, float((work.cpu[at] - before).mean()), 0)


def nightly_all_day(rng: np.random.Generator, work: Workload, ctx: Context) -> AnomalyWindow | None:
    """One night's run goes on 12-20 hours past its end, at the run's own level."""
    busy = work.cpu >= 20.0
    ends = np.flatnonzero(busy[:-1] & ~busy[1:]) + 1
    length = int(rng.uniform(12.0, 20.0) * POINTS_PER_HOUR)
    fits = ends[(ends >= _earliest(ctx)) & (ends + length <= ctx.clock.points)]
    if fits.size == 0:
        return None
    end = int(rng.choice(fits))
    start = end - int(np.argmax(~busy[end - 1 :: -1]))  # the run's first point
    at = slice(end, end + length)
    cpu, net_in, net_out = (series[start:end] for series in (work.cpu, work.net_in, work.net_out))
    before_cpu, before_out = work.cpu[at].copy(), work.net_out[at].copy()
    size = at.stop - at.start
    work.cpu[at] = np.clip(cpu.mean() + rng.normal(0.0, cpu.std() + 1.0, size), 20.0, 100.0)
    work.net_in[at] = np.median(net_in) * rng.lognormal(0.0, 0.3, size)
    work.net_out[at] = np.median(net_out) * rng.lognormal(0.0, 0.3, size)
    return _label(
        ctx,
        "nightly-all-day",
        "cpu_percent",
        at,
        float((work.cpu[at] - before_cpu).mean()),
        float((work.net_out[at] - before_out).mean()),
    )


def night_activity(rng: np.random.Generator, work: Workload, ctx: Context) -> AnomalyWindow | None:
    """New work at 03:00 local for 1-3 hours: CPU up 30-60 points, 1-5 MB/s out."""
    hours = ctx.clock.local_hours(ctx.utc_offset)
    threes = np.flatnonzero(np.abs(hours - 3.0) < 1.0 / (2 * POINTS_PER_HOUR))
    length = int(rng.uniform(1.0, 3.0) * POINTS_PER_HOUR)
    fits = threes[(threes >= _earliest(ctx)) & (threes + length <= ctx.clock.points)]
    if fits.size == 0:
        return None
    start = int(rng.choice(fits))
    at = slice(start, start + length)
    before = work.cpu[at].copy()
    work.cpu[at] = np.clip(before + rng.uniform(30.0, 60.0) + rng.normal(0, 3, length), 0, 100)
    added_out = rng.uniform(1 * MB, 5 * MB) * STEP_SECONDS * rng.uniform(0.85, 1.15, length)
    work.net_out[at] += added_out
    added_cpu = float((work.cpu[at] - before).mean())
    return _label(ctx, "night-activity", "cpu_percent", at, added_cpu, float(added_out.mean()))


Inject = Callable[[np.random.Generator, Workload, Context], AnomalyWindow | None]

ANOMALY_KINDS: dict[str, Inject] = {
    "egress-surge": egress_surge,
    "runaway-cpu": runaway_cpu,
    "nightly-all-day": nightly_all_day,
    "night-activity": night_activity,
}


def kinds_for(workload_kind: str) -> list[str]:
    """The anomaly kinds an instance of ``workload_kind`` may show (a nightly batch: its
    overrun, the rarest kind otherwise).

    >>> kinds_for("nightly-batch"), kinds_for("dev-weekdays")
    (['nightly-all-day'], ['egress-surge', 'runaway-cpu', 'night-activity'])
    """
    if workload_kind == "nightly-batch":
        return ["nightly-all-day"]
    kinds = ["egress-surge"]
    if workload_kind not in ("weekly-job", "queue-worker"):
        kinds.append("runaway-cpu")
    if workload_kind in QUIET_NIGHTS:
        kinds.append("night-activity")
    return kinds


def add_anomaly(
    rng: np.random.Generator, workload_kind: str, work: Workload, ctx: Context
) -> AnomalyWindow | None:
    """Add one anomaly of a kind drawn among those ``workload_kind`` may show to ``work``
    (in place); its label, or None when the drawn kind does not fit the trace."""
    kinds = kinds_for(workload_kind)
    return ANOMALY_KINDS[kinds[int(rng.integers(0, len(kinds)))]](rng, work, ctx)
