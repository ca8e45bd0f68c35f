"""Workload kinds: each makes one instance's CPU and network trace and says when it went idle.

What counts as idle (the ground truth the labels encode): from ``idle_from`` on, nobody and
nothing uses the instance, and its earlier activity never returns. What it still shows is
its own rest level: either a clean noise floor (CPU 0.1-1.5%, a few KB per 5 minutes) or
the rest level of the agents it runs (an SSM or monitoring agent's flushes, a JVM's garbage
collection, Windows' background jobs: CPU mostly 1-6%, network in+out a few hundred bytes
to a few KB per second, never above ~6 KB/s over a 5-minute point). Background jobs that do
no useful work (a cron tick or health check of one point, a Windows update or defender
scan) are part of idle. Long quiet gaps that belong to a pattern (a nightly batch, a weekly
job, a sparse queue, a weekday dev box) are not idle, and neither is a service whose CPU is
as low as an idle box's but which serves real traffic.

Kinds (:data:`KINDS`):

- ``web-diurnal``: request-driven server, daily and weekly cycle in its region's local time;
  never under 10-30 KB/s of traffic (health checks, keep-alives, its quietest clients).
- ``steady-service``: CPU at the floor, steady MBs of network every period (never idle).
- ``nightly-batch``: floor ~22 h a day, a 1.5-2.5 h run every night.
- ``weekly-job``: floor most of the week, a 2-6 h run once a week.
- ``nab-replay``: a real EC2 CPU trace from NAB (see ``NAB_LICENSE.txt``), looped, with
  traffic that tracks it on top of a served floor of 10-30 KB/s.
- ``abandoned``: busy (diurnal or replay), then at the floor from a point it reports.
- ``idle-since-launch``: at the floor for its whole trace.
- ``idle-with-spikes``: at the floor with a one-point spike every 15 min to 6 h.

Idle at an agent rest level; each is idle from its first point (``Context.idle_at_launch``)
or busy with traffic (in+out never under ~30 KB/s) until a drawn point, like ``abandoned``:

- ``agent-monitoring``: CPU 0.5-3%, 0.5-3.5 KB/s of flushes (±20-30% a point), and every
  15-60 min a slightly larger scrape (+0.2-0.8% CPU, +30-60% bytes).
- ``agent-runtime``: an idle JVM or Node runtime: CPU 1.5-3.5% plus a garbage-collection
  sawtooth (0.8-2.5% more, rising over 20-60 min, then dropping back); 0.2-2 KB/s.
- ``agent-windows``: CPU 2-5%, 0.4-3 KB/s; an update scan every 3-8 h (1-4 points at
  15-40% CPU) and a daily maintenance scan at 00:00-06:00 local (20-40 min at 10-30%),
  both under 1 MB a point.
- ``agent-burstable``: a t3/t3a/t4g box: CPU 0.5-4%, 0.3-3 KB/s, a one-point cron spike
  (8-30% CPU) every 3, 6 or 12 h.

Near misses, never idle (label null); their quiet hours sit at an agent rest level
(CPU 1-4%, 0.3-4 KB/s):

- ``internal-service``: weekdays 08:00-19:00 local, bursts of requests (1-2 points at
  4-25% CPU and 20 KB/s-1 MB/s) about three times an hour, never more than an hour apart.
- ``queue-worker``: a job every 1-6 h (gaps uniform), 10-30 min at 40-95% CPU, moving
  about 10-200 MB in and out (at least 13 KB/s while it runs).
- ``dev-weekdays``: weekday sessions from about 09:00 to 18:00 local, 5-60% CPU and
  50 KB/s to a few MB/s.
- ``steady-proxy``: CPU 1-4%, but 50 KB/s to a few MB/s of traffic with a daily cycle.

>>> import numpy as np
>>> ctx = Context(np.random.default_rng(1), Clock(0, 288 * 3), 0.0, 288 * 2)
>>> w = KINDS["nightly-batch"](ctx)
>>> len(w.cpu), w.idle_from is None, bool(w.cpu.max() > 50), bool(np.median(w.cpu) < 1.5)
(864, True, True, True)
>>> w = KINDS["agent-runtime"](Context(np.random.default_rng(2), Clock(0, 288 * 3), 0.0, 0, True))
>>> w.idle_from, bool(1.5 <= w.cpu.min() and w.cpu.max() <= 6.0)
(0, True)
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
KB = 1000.0
MB = 1_000_000.0
_NAB_FILE = Path(__file__).with_name("nab_ec2_cpu.csv")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Series = tuple[FloatArray, FloatArray, FloatArray]
"""CPU (%), network in and network out (bytes per 5-minute point) of one trace."""

AGENT_KINDS = ("agent-monitoring", "agent-runtime", "agent-windows", "agent-burstable")
"""Kinds idle at an agent rest level, in both forms: since launch, or after a busy period."""

IDLE_AT_LAUNCH: dict[str, float] = {
    "idle-since-launch": 1.0,
    "idle-with-spikes": 1.0,
    **dict.fromkeys(AGENT_KINDS, 0.5),
}
"""Share of a kind's instances that are idle from their first point."""


@dataclass(frozen=True)
class Clock:
    """The 5-minute grid of one trace: ``first`` (UTC epoch seconds of point 0), ``points``."""

    first: int
    points: int

    def seconds(self) -> IntArray:
        """UTC epoch seconds of every point."""
        return self.first + STEP_SECONDS * np.arange(self.points, dtype=np.int64)

    def local_hours(self, utc_offset: float) -> FloatArray:
        """Hour of day (0-24, fractional) in local time ``utc_offset`` hours from UTC."""
        return np.asarray(((self.seconds() / 3600.0) + utc_offset) % 24.0, dtype=np.float64)

    def local_days(self, utc_offset: float) -> IntArray:
        """The local date of every point, as days since 1970-01-01."""
        local = self.seconds() + int(utc_offset * 3600)
        return np.asarray(local // 86400, dtype=np.int64)

    def local_weekdays(self, utc_offset: float) -> IntArray:
        """Day of week (Monday 0) in local time; 1970-01-01 was a Thursday."""
        return np.asarray((self.local_days(utc_offset) + 3) % 7, dtype=np.int64)


@dataclass(frozen=True)
class Context:
    """What a kind draws from: its own seeded ``rng``, the ``clock``, the region's
    ``utc_offset`` (hours), ``history`` (points the sandbox shows as history) and
    ``idle_at_launch`` (kinds with both forms then take the idle-since-launch one)."""

    rng: np.random.Generator
    clock: Clock
    utc_offset: float
    history: int
    idle_at_launch: bool = False


@dataclass(frozen=True)
class Workload:
    """One trace's series and ``idle_from``: the index it is idle from, or ``None``."""

    cpu: FloatArray
    net_in: FloatArray
    net_out: FloatArray
    idle_from: int | None


def idle_floor(rng: np.random.Generator, n: int) -> Series:
    """CPU at a floor of 0.1-0.9% with small noise (never above 1.5%); a few KB of network."""
    level = rng.uniform(0.1, 0.9)
    cpu = np.clip(level + rng.normal(0.0, rng.uniform(0.02, 0.12), n), 0.02, 1.5)
    net_in = np.clip(rng.uniform(1500, 5000) * rng.lognormal(0.0, 0.25, n), 200, 12_000)
    net_out = np.clip(rng.uniform(800, 4000) * rng.lognormal(0.0, 0.25, n), 200, 12_000)
    return cpu, net_in, net_out


def agent_rest(
    rng: np.random.Generator,
    n: int,
    cpu: tuple[float, float] = (1.0, 4.0),
    net_bps: tuple[float, float] = (300.0, 4000.0),
) -> Series:
    """The rest level of a box running agents: every point's CPU within ``cpu`` (%) and its
    network in+out within ``net_bps`` (bytes per second).

    A level is drawn so that the jitter keeps the points inside: CPU ±10% a point, network
    ±20-30% a point (in and out jitter apart); 50-80% of the bytes go out (agents send).
    """
    level = rng.uniform(cpu[0] / 0.9, cpu[1] / 1.1)
    cpu_series = level * rng.uniform(0.9, 1.1, n)
    jitter = rng.uniform(0.2, 0.3)
    rate = rng.uniform(net_bps[0] / (1 - jitter), net_bps[1] / (1 + jitter)) * STEP_SECONDS
    out = rng.uniform(0.5, 0.8)
    net_in = (1 - out) * rate * rng.uniform(1 - jitter, 1 + jitter, n)
    net_out = out * rate * rng.uniform(1 - jitter, 1 + jitter, n)
    return cpu_series, net_in, net_out


def add_spikes(
    rng: np.random.Generator,
    w: Workload,
    since: int,
    periods: tuple[int, ...] = (3, 6, 12, 72),
    cpu: tuple[float, float] = (2.0, 12.0),
) -> None:
    """Add one-point cron or health-check spikes from ``since`` on (in place).

    One of ``periods`` (points; by default every 15 min, 30 min, 1 h or 6 h) is drawn; a
    spike sets CPU within ``cpu`` (%) and adds 30-230 KB of network.
    """
    period = int(rng.choice(periods))
    at = np.arange(since + int(rng.integers(0, period)), len(w.cpu), period)
    w.cpu[at] = rng.uniform(*cpu, at.size)
    w.net_in[at] += rng.uniform(20_000, 150_000, at.size)
    w.net_out[at] += rng.uniform(10_000, 80_000, at.size)


def _traffic(rng: np.random.Generator, load: FloatArray, scale_mb: float) -> FloatArray:
    return np.asarray(scale_mb * MB * load * rng.lognormal(0.0, 0.15, load.size), dtype=np.float64)


def _serving(rng: np.random.Generator, net_in: FloatArray) -> FloatArray:
    """``net_in`` plus the 10-30 KB/s a server that serves requests never goes below (health
    checks, keep-alives, its clients' quietest hour)."""
    return np.asarray(net_in + rng.uniform(10 * KB, 30 * KB) * STEP_SECONDS, dtype=np.float64)


def _starts(first: int, gaps: IntArray) -> IntArray:
    """Points ``first``, ``first + gaps[0]``, ``first + gaps[0] + gaps[1]``, ..."""
    return np.asarray(first + np.cumsum(gaps) - gaps, dtype=np.int64)


def _every(rng: np.random.Generator, n: int, hours: tuple[float, float]) -> IntArray:
    """Start points to past ``n``, gaps drawn uniformly within ``hours``, the first point
    within one longest gap of the trace start."""
    low, high = (int(h * POINTS_PER_HOUR) for h in hours)
    return _starts(int(rng.integers(0, high)), rng.integers(low, high + 1, n // low + 2))


def _spans(starts: IntArray, lengths: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """The points of the spans ``[starts[k], starts[k] + lengths[k])`` inside ``[0, n)``,
    and each point's span ``k``."""
    span = np.repeat(np.arange(starts.size), lengths)
    at = starts[span] + np.arange(span.size) - np.repeat(_starts(0, lengths), lengths)
    inside = (at >= 0) & (at < n)
    return at[inside], span[inside]


def _put(
    series: Series, at: IntArray, cpu: FloatArray, volume: FloatArray, inbound: float | FloatArray
) -> None:
    """Set points ``at`` to ``cpu`` % and ``volume`` bytes (in+out), ``inbound`` of it in."""
    series[0][at] = cpu
    series[1][at] = inbound * volume
    series[2][at] = (1 - inbound) * volume


def _episodes(
    rng: np.random.Generator,
    series: Series,
    spans: tuple[IntArray, IntArray],
    cpu: tuple[float, float],
    bytes_per_point: tuple[float, float],
) -> None:
    """Overwrite the points of ``spans`` (as :func:`_spans` gives them) with work.

    Each span draws a CPU level within ``cpu`` (%), log-uniform bytes per point (in+out)
    within ``bytes_per_point`` and its in/out split; points jitter ±10% (CPU clipped to ``cpu``).
    """
    at, span = spans
    count = int(span.max(initial=-1)) + 1
    level = rng.uniform(*cpu, count)[span] * rng.uniform(0.9, 1.1, at.size)
    low, high = np.log(bytes_per_point)
    volume = np.exp(rng.uniform(low, high, count))[span] * rng.uniform(0.9, 1.1, at.size)
    _put(series, at, np.clip(level, *cpu), volume, rng.uniform(0.2, 0.8, count)[span])


def _first_at(ctx: Context, hour: float) -> int:
    """The first point at ``hour`` o'clock local time (``hour`` on the 5-minute grid)."""
    hours = ctx.clock.local_hours(ctx.utc_offset)
    return int(np.argmax(np.abs(hours - hour) < 1.0 / (2 * POINTS_PER_HOUR)))


def _workday(ctx: Context, begin: float | FloatArray, end: float | FloatArray) -> BoolArray:
    """Points on a local weekday from ``begin`` to before ``end`` o'clock local time."""
    hours = ctx.clock.local_hours(ctx.utc_offset)
    weekday = ctx.clock.local_weekdays(ctx.utc_offset) < 5
    return np.asarray(weekday & (hours >= begin) & (hours < end))


def _office_shape(ctx: Context) -> FloatArray:
    """A 0-1 daily load curve peaking at a drawn hour (12-17 h local), lower at weekends."""
    rng = ctx.rng
    peak = rng.uniform(12.0, 17.0)
    hours = ctx.clock.local_hours(ctx.utc_offset)
    shape = (0.5 * (1.0 + np.cos(2 * np.pi * (hours - peak) / 24.0))) ** 2
    weekend = ctx.clock.local_weekdays(ctx.utc_offset) >= 5
    return np.asarray(np.where(weekend, shape * rng.uniform(0.3, 0.7), shape), dtype=np.float64)


def web_diurnal(ctx: Context) -> Workload:
    """CPU and traffic follow local office hours, lower at weekends."""
    rng, n = ctx.rng, ctx.clock.points
    shape = _office_shape(ctx)
    base, amp = rng.uniform(4.0, 12.0), rng.uniform(20.0, 60.0)
    cpu = np.clip(base + amp * shape + rng.normal(0.0, rng.uniform(1.0, 3.0), n), 1.0, 100.0)
    load = 0.2 + shape
    net_in = _traffic(rng, load, rng.uniform(2.0, 20.0))
    net_out = net_in * rng.uniform(2.0, 5.0)
    return Workload(cpu, _serving(rng, net_in), net_out, None)


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
    return _runs(ctx, POINTS_PER_DAY, _first_at(ctx, hour), (1.5, 2.5))


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
    return Workload(cpu, _serving(rng, net_in), net_out, None)


def abandon_point(ctx: Context, tail_hours: int = 1) -> int:
    """The point a busy instance goes idle at, at least ``tail_hours`` before the end.

    Two in three go idle after ``history`` (what a detector shows first), some in the last
    two days; the rest earlier, but never within 12 h of the trace start.
    """
    rng, n = ctx.rng, ctx.clock.points
    history = min(max(ctx.history, POINTS_PER_DAY // 2), 2 * n // 3)
    late = rng.random() < 2 / 3
    end = n - tail_hours * POINTS_PER_HOUR
    low, high = (history, end) if late else (POINTS_PER_DAY // 2, history)
    return int(rng.integers(low, max(high, low + 1)))


def _busy(ctx: Context) -> Workload:
    """A real workload: diurnal web traffic (seven in ten) or a NAB replay."""
    return web_diurnal(ctx) if ctx.rng.random() < 0.7 else nab_replay(ctx)


def _splice(busy: Workload, rest: Series, idle_from: int) -> Workload:
    """``busy`` until ``idle_from``, ``rest`` from then on (``busy``'s arrays are reused)."""
    for mine, theirs in zip((busy.cpu, busy.net_in, busy.net_out), rest, strict=True):
        mine[idle_from:] = theirs[idle_from:]
    return Workload(busy.cpu, busy.net_in, busy.net_out, idle_from)


def abandoned(ctx: Context) -> Workload:
    """Busy (diurnal or a replay), then at the floor from :func:`abandon_point` to the end.

    A third of them keep a cron spike while idle.
    """
    rng, n = ctx.rng, ctx.clock.points
    busy = _busy(ctx)
    idle_from = abandon_point(ctx)
    w = _splice(busy, idle_floor(rng, n), idle_from)
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


def _agent_kind(ctx: Context, rest: Series) -> Workload:
    """An agent kind in one of its forms: ``rest`` from the first point when
    ``ctx.idle_at_launch``; otherwise busy until :func:`abandon_point` (at least 12 hours
    before the end: what finding a machine that rests at its agents' level may take), then
    ``rest``.

    While busy, 20-60 KB/s each way of steady traffic (clients, replication) comes on top,
    so network in+out never drops under ~34 KB/s.
    """
    if ctx.idle_at_launch:
        return Workload(*rest, idle_from=0)
    rng, n = ctx.rng, ctx.clock.points
    busy = _busy(ctx)
    for net in (busy.net_in, busy.net_out):
        net += rng.uniform(20 * KB, 60 * KB) * STEP_SECONDS * rng.uniform(0.85, 1.15, n)
    return _splice(busy, rest, abandon_point(ctx, tail_hours=12))


def agent_monitoring(ctx: Context) -> Workload:
    """A CloudWatch- or Datadog-style agent: a steady CPU base, a flush every point, a
    slightly larger metrics scrape every 15-60 min."""
    rng, n = ctx.rng, ctx.clock.points
    cpu, net_in, net_out = agent_rest(rng, n, cpu=(0.5, 3.0), net_bps=(500.0, 3500.0))
    period = int(rng.integers(3, 13))
    scrape = np.arange(int(rng.integers(0, period)), n, period)
    cpu[scrape] += rng.uniform(0.2, 0.8)
    net_out[scrape] += rng.uniform(0.3, 0.6) * (net_in[scrape] + net_out[scrape])
    return _agent_kind(ctx, (cpu, net_in, net_out))


def agent_runtime(ctx: Context) -> Workload:
    """An idle JVM or Node runtime nobody calls: a garbage-collection sawtooth over a CPU base
    (the heap fills over 20-60 min, then a collection drops it back), keep-alives, a scrape."""
    rng, n = ctx.rng, ctx.clock.points
    cpu, net_in, net_out = agent_rest(rng, n, cpu=(1.5, 3.5), net_bps=(200.0, 2000.0))
    lengths = rng.integers(4, 13, n // 4 + 1)
    starts = _starts(0, lengths)
    at, cycle = _spans(starts, lengths, n)
    cpu[at] += rng.uniform(0.8, 2.5) * (at - starts[cycle]) / (lengths[cycle] - 1)
    return _agent_kind(ctx, (cpu, net_in, net_out))


def agent_windows(ctx: Context) -> Workload:
    """Windows services: a CPU base, an update scan every 3-8 h and a daily maintenance or
    defender scan in the small hours, all with little network."""
    rng, n = ctx.rng, ctx.clock.points
    rest = agent_rest(rng, n, cpu=(2.0, 5.0), net_bps=(400.0, 3000.0))
    scans = _every(rng, n, (3.0, 8.0))
    updates = _spans(scans, rng.integers(1, 5, scans.size), n)
    _episodes(rng, rest, updates, cpu=(15.0, 40.0), bytes_per_point=(250 * KB, 850 * KB))
    hour = int(rng.integers(0, 6 * POINTS_PER_HOUR)) / POINTS_PER_HOUR
    daily = _first_at(ctx, hour) + POINTS_PER_DAY * np.arange(-1, n // POINTS_PER_DAY + 1)
    maintenance = _spans(daily, rng.integers(4, 9, daily.size), n)
    _episodes(rng, rest, maintenance, cpu=(10.0, 30.0), bytes_per_point=(100 * KB, 600 * KB))
    return _agent_kind(ctx, rest)


def agent_burstable(ctx: Context) -> Workload:
    """A burstable (t3, t3a, t4g) box with agents and an occasional one-point cron spike."""
    rng, n = ctx.rng, ctx.clock.points
    w = Workload(*agent_rest(rng, n, cpu=(0.5, 4.0), net_bps=(300.0, 3000.0)), idle_from=0)
    add_spikes(rng, w, 0, periods=(36, 72, 144), cpu=(8.0, 30.0))
    return _agent_kind(ctx, (w.cpu, w.net_in, w.net_out))


def internal_service(ctx: Context) -> Workload:
    """A low-traffic internal service: on weekdays 08:00-19:00 local, bursts of requests
    about three times an hour (gaps of 10-60 min); agents' rest level otherwise."""
    rng, n = ctx.rng, ctx.clock.points
    rest = agent_rest(rng, n)
    gaps = np.minimum(1 + rng.geometric(1 / 3, n // 2 + 1), POINTS_PER_HOUR)
    bursts = _starts(int(rng.integers(0, POINTS_PER_HOUR)), gaps)
    at, span = _spans(bursts, rng.integers(1, 3, bursts.size), n)
    office = _workday(ctx, 8.0, 19.0)[at]
    volume = (23 * KB * STEP_SECONDS, 900 * KB * STEP_SECONDS)
    _episodes(rng, rest, (at[office], span[office]), cpu=(4.0, 25.0), bytes_per_point=volume)
    return Workload(*rest, idle_from=None)


def queue_worker(ctx: Context) -> Workload:
    """A sparse queue worker: agents' rest level, and a job every 1-6 h (gaps uniform)."""
    rng, n = ctx.rng, ctx.clock.points
    rest = agent_rest(rng, n)
    jobs = _every(rng, n, (1.0, 6.0))
    spans = _spans(jobs, rng.integers(2, 7, jobs.size), n)
    _episodes(rng, rest, spans, cpu=(40.0, 95.0), bytes_per_point=(4 * MB, 40 * MB))
    return Workload(*rest, idle_from=None)


def dev_weekdays(ctx: Context) -> Workload:
    """A dev box used on weekdays from about 09:00 to 18:00 local (each day's hours drawn);
    agents' rest level at night and at weekends."""
    rng, n = ctx.rng, ctx.clock.points
    rest = agent_rest(rng, n)
    day = ctx.clock.local_days(ctx.utc_offset)
    day -= day[0]
    days = int(day[-1]) + 1
    begin, end = rng.uniform(8.5, 10.0, days)[day], rng.uniform(17.0, 19.0, days)[day]
    at = np.flatnonzero(_workday(ctx, begin, end))
    effort = rng.uniform(8.0, 45.0, n // POINTS_PER_HOUR + 1)[at // POINTS_PER_HOUR]
    cpu = np.clip(effort * rng.lognormal(0.0, 0.35, at.size), 5.0, 60.0)
    rate = 60 * KB * (cpu / 5.0) ** 1.6 * rng.lognormal(0.0, 0.3, at.size)
    volume = np.clip(rate, 55 * KB, 4 * MB) * STEP_SECONDS
    _put(rest, at, cpu, volume, rng.uniform(0.3, 0.7))
    return Workload(*rest, idle_from=None)


def steady_proxy(ctx: Context) -> Workload:
    """A proxy with CPU as low as an agent-idle box (1-4%) that carries real traffic: at
    least 70 KB/s plus up to 3 MB/s more with a daily cycle."""
    rng, n = ctx.rng, ctx.clock.points
    cpu, _, _ = agent_rest(rng, n, cpu=(1.0, 3.5))
    shape = _office_shape(ctx)
    rate = rng.uniform(70 * KB, 300 * KB) + rng.uniform(0.3 * MB, 3 * MB) * shape
    volume = rate * STEP_SECONDS * rng.uniform(0.85, 1.15, n)
    inbound = rng.uniform(0.4, 0.6)
    return Workload(cpu + 0.5 * shape, inbound * volume, (1 - inbound) * volume, None)


KINDS: dict[str, Callable[[Context], Workload]] = {
    "web-diurnal": web_diurnal,
    "steady-service": steady_service,
    "nightly-batch": nightly_batch,
    "weekly-job": weekly_job,
    "nab-replay": nab_replay,
    "abandoned": abandoned,
    "idle-since-launch": idle_since_launch,
    "idle-with-spikes": idle_with_spikes,
    "agent-monitoring": agent_monitoring,
    "agent-runtime": agent_runtime,
    "agent-windows": agent_windows,
    "agent-burstable": agent_burstable,
    "internal-service": internal_service,
    "queue-worker": queue_worker,
    "dev-weekdays": dev_weekdays,
    "steady-proxy": steady_proxy,
}
