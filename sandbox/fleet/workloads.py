"""Workload kinds: each makes one instance's CPU and network trace and says when it went idle.

What counts as idle (the ground truth the labels encode): from ``idle_from`` on, CPU sits
at the instance's noise floor (0.1-1.5% with small noise), network is a few KB per
5 minutes (agents, NTP), and the earlier activity never returns. Short spikes that do no
useful work (a cron tick or a load-balancer health check: one 5-minute point, a few
percent CPU, tens of KB) are part of idle. Long quiet gaps that belong to a pattern (a
nightly batch, a weekly job, a bursty real trace) are not idle, and neither is a service
whose CPU is at the floor but which serves steady network traffic.

Kinds (:data:`KINDS`):

- ``web-diurnal``: request-driven server, daily and weekly cycle in its region's local time.
- ``steady-service``: CPU at the floor, steady MBs of network every period (never idle).
- ``nightly-batch``: floor ~22 h a day, a 1.5-2.5 h run every night.
- ``weekly-job``: floor most of the week, a 2-6 h run once a week.
- ``nab-replay``: a real EC2 CPU trace from NAB (see ``NAB_LICENSE.txt``), looped.
- ``abandoned``: busy (diurnal or replay), then idle from a point it reports.
- ``idle-since-launch``: at the floor for its whole trace.
- ``idle-with-spikes``: at the floor with a one-point spike every 15 min to 6 h.

>>> import numpy as np
>>> ctx = Context(np.random.default_rng(1), Clock(0, 288 * 3), 0.0, 288 * 2)
>>> w = KINDS["nightly-batch"](ctx)
>>> len(w.cpu), w.idle_from is None, bool(w.cpu.max() > 50), bool(np.median(w.cpu) < 1.5)
(864, True, True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sandbox.fleet.model import STEP_SECONDS, FloatArray

POINTS_PER_HOUR = 3600 // STEP_SECONDS
POINTS_PER_DAY = 24 * POINTS_PER_HOUR
MB = 1_000_000.0
_NAB_FILE = Path(__file__).with_name("nab_ec2_cpu.csv")


@dataclass(frozen=True)
class Clock:
    """The 5-minute grid of one trace: ``first`` (UTC epoch seconds of point 0), ``points``."""

    first: int
    points: int

    def seconds(self) -> npt.NDArray[np.int64]:
        """UTC epoch seconds of every point."""
        return self.first + STEP_SECONDS * np.arange(self.points, dtype=np.int64)

    def local_hours(self, utc_offset: float) -> FloatArray:
        """Hour of day (0-24, fractional) in local time ``utc_offset`` hours from UTC."""
        return np.asarray(((self.seconds() / 3600.0) + utc_offset) % 24.0, dtype=np.float64)

    def local_weekdays(self, utc_offset: float) -> npt.NDArray[np.int64]:
        """Day of week (Monday 0) in local time; 1970-01-01 was a Thursday."""
        local = self.seconds() + int(utc_offset * 3600)
        return np.asarray((local // 86400 + 3) % 7, dtype=np.int64)


@dataclass(frozen=True)
class Context:
    """What a kind draws from: its own seeded ``rng``, the ``clock``, the region's
    ``utc_offset`` (hours) and ``history`` (points the sandbox shows as history)."""

    rng: np.random.Generator
    clock: Clock
    utc_offset: float
    history: int


@dataclass(frozen=True)
class Workload:
    """One trace's series and ``idle_from``: the index it is idle from, or ``None``."""

    cpu: FloatArray
    net_in: FloatArray
    net_out: FloatArray
    idle_from: int | None


def idle_floor(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """CPU at a floor of 0.1-0.9% with small noise (never above 1.5%); a few KB of network."""
    level = rng.uniform(0.1, 0.9)
    cpu = np.clip(level + rng.normal(0.0, rng.uniform(0.02, 0.12), n), 0.02, 1.5)
    net_in = np.clip(rng.uniform(1500, 5000) * rng.lognormal(0.0, 0.25, n), 200, 12_000)
    net_out = np.clip(rng.uniform(800, 4000) * rng.lognormal(0.0, 0.25, n), 200, 12_000)
    return cpu, net_in, net_out


def add_spikes(rng: np.random.Generator, w: Workload, since: int) -> None:
    """Add one-point cron or health-check spikes from ``since`` on (in place)."""
    period = int(rng.choice([3, 6, 12, 72]))  # every 15 min, 30 min, 1 h, 6 h
    at = np.arange(since + int(rng.integers(0, period)), len(w.cpu), period)
    w.cpu[at] = rng.uniform(2.0, 12.0, at.size)
    w.net_in[at] += rng.uniform(20_000, 150_000, at.size)
    w.net_out[at] += rng.uniform(10_000, 80_000, at.size)


def _traffic(rng: np.random.Generator, load: FloatArray, scale_mb: float) -> FloatArray:
    return np.asarray(scale_mb * MB * load * rng.lognormal(0.0, 0.15, load.size), dtype=np.float64)


def web_diurnal(ctx: Context) -> Workload:
    """CPU and traffic follow local office hours, lower at weekends."""
    rng, n = ctx.rng, ctx.clock.points
    peak = rng.uniform(12.0, 17.0)
    hours = ctx.clock.local_hours(ctx.utc_offset)
    shape = (0.5 * (1.0 + np.cos(2 * np.pi * (hours - peak) / 24.0))) ** 2
    weekend = ctx.clock.local_weekdays(ctx.utc_offset) >= 5
    shape = np.where(weekend, shape * rng.uniform(0.3, 0.7), shape)
    base, amp = rng.uniform(4.0, 12.0), rng.uniform(20.0, 60.0)
    cpu = np.clip(base + amp * shape + rng.normal(0.0, rng.uniform(1.0, 3.0), n), 1.0, 100.0)
    load = 0.2 + shape
    net_in = _traffic(rng, load, rng.uniform(2.0, 20.0))
    net_out = net_in * rng.uniform(2.0, 5.0)
    return Workload(cpu, net_in, net_out, None)


def steady_service(ctx: Context) -> Workload:
    """CPU as low as an idle box, but megabytes of traffic every five minutes."""
    rng, n = ctx.rng, ctx.clock.points
    cpu, _, _ = idle_floor(rng, n)
    hours = ctx.clock.local_hours(ctx.utc_offset)
    load = 1.0 + 0.2 * np.sin(2 * np.pi * hours / 24.0)
    net_in = _traffic(rng, load, rng.uniform(1.0, 15.0))
    net_out = net_in * rng.uniform(0.5, 2.0)
    return Workload(cpu, net_in, net_out, None)


def _runs(ctx: Context, every: int, first: int, length_hours: tuple[float, float]) -> Workload:
    """Floor, plus a heavy run of ``length_hours`` starting every ``every`` points from ``first``."""
    rng, n = ctx.rng, ctx.clock.points
    cpu, net_in, net_out = idle_floor(rng, n)
    level, data_mb = rng.uniform(50.0, 90.0), rng.uniform(20.0, 300.0)
    for start in range(first - every, n, every):
        length = int(rng.uniform(*length_hours) * POINTS_PER_HOUR)
        run = slice(max(start, 0), max(min(start + length, n), 0))
        size = run.stop - run.start
        if size <= 0:
            continue
        cpu[run] = np.clip(level + rng.normal(0.0, 5.0, size), 20.0, 100.0)
        net_in[run] = data_mb * MB * rng.lognormal(0.0, 0.3, size)
        net_out[run] = 0.2 * data_mb * MB * rng.lognormal(0.0, 0.3, size)
    return Workload(cpu, net_in, net_out, None)


def nightly_batch(ctx: Context) -> Workload:
    """A 1.5-2.5 h run every night, starting between 22:00 and 03:00 local time."""
    hour = float(ctx.rng.choice(np.arange(22.0, 27.0, 0.25))) % 24
    hours = ctx.clock.local_hours(ctx.utc_offset)
    first = int(np.argmax(np.abs(hours - hour) < 1.0 / (2 * POINTS_PER_HOUR)))
    return _runs(ctx, POINTS_PER_DAY, first, (1.5, 2.5))


def weekly_job(ctx: Context) -> Workload:
    """A 2-6 h run once a week at a fixed time, the first one inside the trace."""
    week = 7 * POINTS_PER_DAY
    first = int(ctx.rng.integers(0, max(min(week, ctx.clock.points - 6 * POINTS_PER_HOUR), 1)))
    return _runs(ctx, week, first, (2.0, 6.0))


@cache
def nab_traces() -> tuple[FloatArray, ...]:
    """The vendored NAB EC2 CPU series (14 days at 5 minutes each)."""
    values = np.loadtxt(_NAB_FILE, delimiter=",", skiprows=1, dtype=np.float64)
    return tuple(np.ascontiguousarray(values[:, k]) for k in range(values.shape[1]))


def nab_replay(ctx: Context) -> Workload:
    """A real EC2 CPU trace, looped from a random offset, with traffic that tracks it."""
    rng, n = ctx.rng, ctx.clock.points
    traces = nab_traces()
    source = traces[int(rng.integers(0, len(traces)))]
    at = (int(rng.integers(0, source.size)) + np.arange(n)) % source.size
    cpu = np.clip(source[at] * rng.uniform(0.9, 1.1), 0.02, 100.0)
    load = rng.uniform(0.1, 0.5) + cpu / 100.0
    net_in = _traffic(rng, load, rng.uniform(1.0, 10.0))
    net_out = net_in * rng.uniform(0.5, 3.0)
    return Workload(cpu, net_in, net_out, None)


def abandoned(ctx: Context) -> Workload:
    """Busy (diurnal or a replay), then idle from a drawn point to the end.

    Two in three go idle after ``history`` (what a detector shows first), some in the
    last two days; the rest earlier. A third of them keep a cron spike while idle.
    """
    rng, n = ctx.rng, ctx.clock.points
    busy = web_diurnal(ctx) if rng.random() < 0.7 else nab_replay(ctx)
    history = min(ctx.history, 2 * n // 3)
    late = rng.random() < 2 / 3
    low, high = (history, n - POINTS_PER_HOUR) if late else (POINTS_PER_DAY // 2, history)
    idle_from = int(rng.integers(low, max(high, low + 1)))
    cpu, net_in, net_out = idle_floor(rng, n)
    tail = slice(idle_from, n)
    w = Workload(busy.cpu.copy(), busy.net_in.copy(), busy.net_out.copy(), idle_from)
    w.cpu[tail], w.net_in[tail], w.net_out[tail] = cpu[tail], net_in[tail], net_out[tail]
    if rng.random() < 1 / 3:
        add_spikes(rng, w, idle_from)
    return w


def idle_since_launch(ctx: Context) -> Workload:
    """At the floor from its first point."""
    return Workload(*idle_floor(ctx.rng, ctx.clock.points), idle_from=0)


def idle_with_spikes(ctx: Context) -> Workload:
    """At the floor from its first point, with one-point cron or health-check spikes."""
    w = idle_since_launch(ctx)
    add_spikes(ctx.rng, w, 0)
    return w


KINDS: dict[str, Callable[[Context], Workload]] = {
    "web-diurnal": web_diurnal,
    "steady-service": steady_service,
    "nightly-batch": nightly_batch,
    "weekly-job": weekly_job,
    "nab-replay": nab_replay,
    "abandoned": abandoned,
    "idle-since-launch": idle_since_launch,
    "idle-with-spikes": idle_with_spikes,
}
