"""Every generated instance's trace agrees with its ground-truth label and its kind's shape.

"Quiet" is defined here, independently of the generator, from DESIGN.md's meaning of
idle: CPU at a noise floor (at most 1.5%) and near-zero network (at most 24 KB in+out
per 5 minutes). Idle instances of the floor kinds may show short spikes that do no work:
single 5-minute points with at most 20% CPU and 250 KB of network. Idle instances of the
agent kinds sit at their agents' rest level instead: network in+out never above 6 KB/s
over a 5-minute point, CPU within the kind's range but for its background jobs. "Busy"
means at least 30 KB/s of network in+out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytest

from sandbox.fleet import Fleet, Trace, catalog
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.workloads import KINDS

QUIET_CPU = 1.5
QUIET_NET = 24_000
SPIKE_CPU = 20.0
SPIKE_NET = 250_000
HOUR = 12  # points
DAY = 24 * HOUR
STEP_S = 300
REST_BPS = 6_000  # agents' rest level: network in+out, bytes per second
BUSY_BPS = 30_000
FLOOR_KINDS = ("abandoned", "idle-since-launch", "idle-with-spikes")
AGENT_KINDS = ("agent-monitoring", "agent-runtime", "agent-windows", "agent-burstable")
NEAR_MISSES = ("internal-service", "queue-worker", "dev-weekdays", "steady-proxy")

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    """The default demo fleet (300 instances, 21 days), in memory."""
    return generate_fleet(FleetSpec(seed=20261127))


@pytest.fixture(scope="module")
def big() -> Fleet:
    """The benchmark's fleet: 480 instances, 21 days, seed 7."""
    return generate_fleet(FleetSpec(seed=7, instances=480))


def quiet(trace: Trace) -> BoolArray:
    net = trace.network_in_bytes + trace.network_out_bytes
    return np.asarray((trace.cpu_percent <= QUIET_CPU) & (net <= QUIET_NET))


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def of_kind(fleet: Fleet, kind: str) -> list[str]:
    found = [iid for iid, i in fleet.instances.items() if i.kind == kind]
    assert found, f"the default fleet has no {kind} instance"
    return found


def bps(trace: Trace) -> FloatArray:
    """Network in+out of every point, in bytes per second."""
    return (trace.network_in_bytes + trace.network_out_bytes) / STEP_S


def idle_from(fleet: Fleet, iid: str) -> int:
    """The index of the point an idle-labelled instance is idle from."""
    when = fleet.labels[iid]
    assert when is not None, iid
    return fleet.traces[iid].index_at(when)


def abandoned_forms(fleet: Fleet) -> list[str]:
    """Instances that were busy and then went idle: ``abandoned`` and the agent kinds'."""
    kinds = ("abandoned", *AGENT_KINDS)
    return [iid for iid, i in fleet.instances.items() if i.kind in kinds and idle_from(fleet, iid)]


def test_every_kind_is_in_a_default_fleet_and_25_times_in_a_480_fleet(
    fleet: Fleet, big: Fleet
) -> None:
    assert len(KINDS) == 16
    assert {*FLOOR_KINDS, *AGENT_KINDS, *NEAR_MISSES} < set(KINDS)
    assert set(Counter(i.kind for i in fleet.instances.values())) == set(KINDS)
    counts = Counter(i.kind for i in big.instances.values())
    assert set(counts) == set(KINDS)
    assert min(counts.values()) >= 25, counts


def test_idle_instances_of_the_floor_kinds_sit_at_their_noise_floor(fleet: Fleet) -> None:
    idle = [iid for iid, i in fleet.instances.items() if i.kind in FLOOR_KINDS]
    assert len(idle) >= 3 * 18
    for iid in idle:
        trace = fleet.traces[iid]
        when = fleet.labels[iid]
        assert when is not None
        tail = slice(trace.index_at(when), len(trace))
        calm = quiet(trace)[tail]
        loud = ~calm
        # anything above the floor is an isolated one-point spike that does no work
        assert all(length == 1 for _, length in runs(loud)), iid
        assert np.all(trace.cpu_percent[tail][loud] <= SPIKE_CPU), iid
        net = (trace.network_in_bytes + trace.network_out_bytes)[tail]
        assert np.all(net[loud] <= SPIKE_NET), iid
        assert calm.mean() >= 0.6, iid
        assert np.all(trace.cpu_percent[tail][calm] <= QUIET_CPU)


def test_abandoned_labels_are_tight_the_hour_before_is_busy(fleet: Fleet) -> None:
    for iid in of_kind(fleet, "abandoned"):
        trace = fleet.traces[iid]
        when = fleet.labels[iid]
        assert when is not None
        at = trace.index_at(when)
        before = slice(max(at - HOUR, 0), at)
        assert at > 0 and not quiet(trace)[before].any(), iid


def test_abandoned_go_idle_at_varied_times_many_after_the_14_day_history(fleet: Fleet) -> None:
    days = sorted(
        (fleet.labels[iid] - fleet.start) / timedelta(days=1)  # type: ignore[operator]
        for iid in abandoned_forms(fleet)
    )
    assert sum(d >= 14 for d in days) >= 0.4 * len(days)
    assert sum(d >= 19 for d in days) >= 3  # new idle instances appear in a live demo
    assert sum(d < 7 for d in days) >= 3
    assert len({int(d) for d in days}) >= 12  # spread over the horizon, not bunched


def test_idle_since_launch_kinds_are_idle_from_their_first_point(fleet: Fleet) -> None:
    for kind in ("idle-since-launch", "idle-with-spikes"):
        for iid in of_kind(fleet, kind):
            assert fleet.labels[iid] == fleet.traces[iid].start


def test_idle_from_launch_is_seen_for_a_week_when_launched_in_the_horizon(big: Fleet) -> None:
    since_launch = [iid for iid, when in big.labels.items() if when == big.traces[iid].start]
    launched_inside = [iid for iid in since_launch if big.traces[iid].start > big.start]
    assert len(launched_inside) >= 10
    assert {big.instances[iid].kind for iid in launched_inside} & set(AGENT_KINDS)
    for iid in launched_inside:
        assert big.end - big.traces[iid].start >= timedelta(days=8), iid


def test_never_idle_instances_are_labelled_null_and_not_quiet_at_the_end(fleet: Fleet) -> None:
    """A null label: whatever quiet stretch ends the trace, the trace has already shown
    activity returning after a quiet stretch at least as long."""
    busy = [iid for iid, when in fleet.labels.items() if when is None]
    assert len(busy) > 120
    for iid in busy:
        stretches = runs(quiet(fleet.traces[iid]))
        n = len(fleet.traces[iid])
        trailing = next((length for a, length in stretches if a + length == n), 0)
        returned = max((length for a, length in stretches if a + length < n), default=0)
        assert trailing <= returned, iid


def _returns_after(trace: Trace, quiet_points: int) -> bool:
    """A quiet stretch of ``quiet_points`` is followed by CPU above 20%."""
    for start, length in runs(quiet(trace)):
        after = start + length
        if length >= quiet_points and after < len(trace) and trace.cpu_percent[after:].max() > 20:
            return True
    return False


def test_nightly_batch_returns_after_20_quiet_hours(fleet: Fleet) -> None:
    for iid in of_kind(fleet, "nightly-batch"):
        assert fleet.labels[iid] is None
        assert _returns_after(fleet.traces[iid], 20 * HOUR), iid


def test_weekly_job_returns_after_6_quiet_days(fleet: Fleet) -> None:
    for iid in of_kind(fleet, "weekly-job"):
        assert fleet.labels[iid] is None
        assert _returns_after(fleet.traces[iid], 6 * DAY), iid


def test_steady_service_has_idle_cpu_but_serves_traffic_all_the_time(fleet: Fleet) -> None:
    for iid in of_kind(fleet, "steady-service"):
        trace = fleet.traces[iid]
        assert fleet.labels[iid] is None
        assert trace.cpu_percent.max() <= QUIET_CPU  # a CPU-only detector would fire
        assert trace.network_in_bytes.min() >= 200_000, iid


def test_web_and_replays_are_busy_every_day(fleet: Fleet) -> None:
    for kind in ("web-diurnal", "nab-replay"):
        for iid in of_kind(fleet, kind):
            trace = fleet.traces[iid]
            assert fleet.labels[iid] is None
            assert not quiet(trace).any(), iid
            days = len(trace) // DAY
            daily_peak = trace.cpu_percent[: days * DAY].reshape(days, DAY).max(axis=1)
            daily_net = trace.network_in_bytes[: days * DAY].reshape(days, DAY).sum(axis=1)
            assert np.all(daily_net > 10e6), iid
            assert np.median(daily_peak) > 1.5, iid


def test_replays_come_from_several_real_traces(fleet: Fleet) -> None:
    medians = {
        round(float(np.median(fleet.traces[i].cpu_percent))) for i in of_kind(fleet, "nab-replay")
    }
    assert len(medians) >= 4


# agent kinds: idle at their agents' rest level, since launch or after a busy period


class Rest(NamedTuple):
    """An agent kind's rest level (CPU %, network in+out B/s) and its background jobs:
    runs of at most ``job_points`` points above ``cpu[1]``, at most ``job_cpu`` % CPU."""

    kind: str
    cpu: tuple[float, float]
    net: tuple[float, float]
    job_points: int
    job_cpu: float


RESTS = [
    Rest("agent-monitoring", (0.45, 3.8), (450, REST_BPS), 0, 0.0),
    Rest("agent-runtime", (1.5, 6.0), (200, 2_000), 0, 0.0),
    Rest("agent-windows", (1.8, 5.0), (300, 3_334), 12, 40.0),  # scans: under 1 MB a point
    Rest("agent-burstable", (0.45, 4.0), (300, 3_800), 1, 30.0),  # one-point cron spikes
]


def idle_parts(fleet: Fleet, kind: str, days: float = 0) -> Iterator[tuple[str, Trace, int]]:
    """(instance, trace, idle_from) of a kind's instances idle for at least ``days``."""
    for iid in of_kind(fleet, kind):
        trace, at = fleet.traces[iid], idle_from(fleet, iid)
        if len(trace) - at >= days * DAY:
            yield iid, trace, at


def windows(values: FloatArray, size: int, step: int) -> npt.NDArray[np.float64]:
    """Every full window of ``size`` points, ``step`` points apart, one a row."""
    return np.lib.stride_tricks.sliding_window_view(values, size)[::step]


@pytest.mark.parametrize("rest", RESTS, ids=[r.kind for r in RESTS])
def test_agent_kinds_stay_at_their_rest_level_once_idle(big: Fleet, rest: Rest) -> None:
    for iid, trace, at in idle_parts(big, rest.kind):
        cpu, net = trace.cpu_percent[at:], bps(trace)[at:]
        assert rest.net[0] <= net.min() and net.max() <= rest.net[1], iid
        assert net.max() <= REST_BPS, iid  # never back at the busy level
        assert cpu.min() >= rest.cpu[0], iid
        assert 0.5 <= np.median(cpu) <= 6.0, iid
        jobs = runs(cpu > rest.cpu[1])
        assert all(length <= rest.job_points for _, length in jobs), iid
        assert cpu.max() <= max(rest.cpu[1], rest.job_cpu), iid


def test_agent_kinds_come_in_both_forms_about_half_and_half(big: Fleet) -> None:
    for kind in AGENT_KINDS:
        since = [idle_from(big, iid) == 0 for iid in of_kind(big, kind)]
        assert 0.25 <= np.mean(since) <= 0.75, kind


def test_abandoned_agent_boxes_carry_traffic_until_their_label(big: Fleet) -> None:
    abandoned = [iid for iid in abandoned_forms(big) if big.instances[iid].kind in AGENT_KINDS]
    assert len(abandoned) >= 40
    for iid in abandoned:
        at, net = idle_from(big, iid), bps(big.traces[iid])
        assert at >= 12 * HOUR, iid
        assert net[:at].min() >= BUSY_BPS, iid
        assert net[at:].max() <= REST_BPS, iid


def test_monitoring_agent_flushes_every_point_and_scrapes_every_15_to_60_min(big: Fleet) -> None:
    for iid, trace, at in idle_parts(big, "agent-monitoring", days=2):
        net = bps(trace)[at:]
        assert np.all((net >= 0.5 * np.median(net)) & (net <= 2.5 * np.median(net))), iid
        folded = [windows(net, p, p).mean(axis=0) for p in range(3, 13)]
        assert max(f.max() / np.median(f) for f in folded) >= 1.2, iid


def test_runtime_cpu_drops_back_after_each_garbage_collection(big: Fleet) -> None:
    for iid, trace, at in idle_parts(big, "agent-runtime", days=1):
        drops = np.diff(trace.cpu_percent[at:]) < -0.6
        assert drops.sum() >= 12 * (len(trace) - at) / DAY, iid


def test_windows_scans_every_8_hours_and_maintains_every_day(big: Fleet) -> None:
    for iid, trace, at in idle_parts(big, "agent-windows", days=2):
        scanning = trace.cpu_percent[at:] >= 10.0
        assert np.all(windows(scanning.astype(np.float64), 8 * HOUR, 1).max(axis=1) == 1), iid
        for day in windows(scanning.astype(np.float64), DAY + 8, DAY):
            assert max(length for _, length in runs(day == 1)) >= 4, iid


def test_burstable_boxes_run_on_t_types_with_occasional_cron_spikes(big: Fleet) -> None:
    for iid, trace, at in idle_parts(big, "agent-burstable", days=1):
        assert big.instances[iid].instance_type.startswith(("t3.", "t3a.", "t4g.")), iid
        spiking = (trace.cpu_percent[at:] > 5.0).astype(np.float64)
        assert np.all(windows(spiking, 12 * HOUR, 1).max(axis=1) == 1), iid


# near misses: low activity that is never idle


def local_time(fleet: Fleet, iid: str) -> tuple[FloatArray, IntArray, IntArray]:
    """Local hour (0-24), weekday (Monday 0) and date (days since 1970) of every point."""
    trace = fleet.traces[iid]
    offset = catalog.REGIONS[fleet.instances[iid].region]
    seconds = trace.start.timestamp() + STEP_S * np.arange(len(trace)) + 3600 * offset
    days = (seconds // 86400).astype(np.int64)
    return (seconds % 86400) / 3600, (days + 3) % 7, days


def full_weekdays(fleet: Fleet, iid: str) -> list[IntArray]:
    """The indices of every whole local weekday in the trace."""
    _, weekday, days = local_time(fleet, iid)
    whole = [np.flatnonzero(days == d) for d in np.unique(days)]
    return [idx for idx in whole if idx.size == DAY and weekday[idx[0]] < 5]


def at_rest(trace: Trace, points: BoolArray) -> bool:
    """The points sit at an agent rest level: CPU at most 4.4%, network at most 6 KB/s."""
    return bool(np.all(trace.cpu_percent[points] <= 4.4) and np.all(bps(trace)[points] <= REST_BPS))


def test_near_misses_are_never_labelled_idle(big: Fleet) -> None:
    for kind in NEAR_MISSES:
        assert all(big.labels[iid] is None for iid in of_kind(big, kind)), kind


def test_queue_worker_runs_a_job_at_least_every_6_hours(big: Fleet) -> None:
    for iid in of_kind(big, "queue-worker"):
        trace = big.traces[iid]
        working = trace.cpu_percent >= 40.0
        jobs = runs(working)
        starts = np.array([start for start, _ in jobs])
        assert starts[0] < 6 * HOUR and len(trace) - starts[-1] <= 6 * HOUR, iid
        assert np.diff(starts).max() <= 6 * HOUR and np.diff(starts).min() >= HOUR, iid
        assert all(2 <= length <= 6 for _, length in jobs[:-1]), iid
        moved = [(bps(trace)[a : a + n] * STEP_S).sum() for a, n in jobs[:-1]]
        assert min(moved) >= 4e6 and max(moved) <= 250e6, iid
        assert at_rest(trace, ~working), iid


def test_steady_proxy_has_agent_cpu_but_always_carries_traffic(big: Fleet) -> None:
    for iid in of_kind(big, "steady-proxy"):
        trace, net = big.traces[iid], bps(big.traces[iid])
        assert trace.cpu_percent.min() >= 1.0 and trace.cpu_percent.max() <= 4.0, iid
        assert net.min() >= 50_000 and net.max() <= 5e6, iid
        assert np.percentile(net, 95) >= 1.5 * np.percentile(net, 5), iid  # a daily cycle


def test_internal_service_gets_requests_every_weekday_hour_and_rests_otherwise(
    big: Fleet,
) -> None:
    for iid in of_kind(big, "internal-service"):
        trace = big.traces[iid]
        hours, weekday, _ = local_time(big, iid)
        office = (weekday < 5) & (hours >= 8) & (hours < 19)
        burst = bps(trace) >= 20_000
        assert not np.any(burst & ~office) and at_rest(trace, ~office), iid
        assert np.all((trace.cpu_percent[burst] >= 4) & (trace.cpu_percent[burst] <= 25)), iid
        assert bps(trace)[burst].max() <= 1e6, iid
        days = full_weekdays(big, iid)
        assert days, iid
        for day in days:
            quiet_office = runs(office[day] & ~burst[day])
            assert burst[day].sum() >= 11 and max(n for _, n in quiet_office) <= 12, iid


def test_dev_box_is_used_every_weekday_and_rests_at_night_and_weekends(big: Fleet) -> None:
    for iid in of_kind(big, "dev-weekdays"):
        trace = big.traces[iid]
        hours, weekday, _ = local_time(big, iid)
        used = (trace.cpu_percent >= 5) & (bps(trace) >= 50_000)
        day_time = (weekday < 5) & (hours >= 8.5) & (hours < 19)
        assert not np.any(used & ~day_time) and at_rest(trace, ~used), iid
        days = full_weekdays(big, iid)
        assert len(days) >= 10, iid
        for day in days:
            assert used[day].sum() >= 7 * HOUR, iid
