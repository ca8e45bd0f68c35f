"""Every generated instance's trace agrees with its ground-truth label.

"Quiet" is defined here, independently of the generator, from DESIGN.md's meaning of
idle: CPU at a noise floor (at most 1.5%) and near-zero network (at most 24 KB in+out
per 5 minutes). Idle instances may show short spikes that do no work: single 5-minute
points with at most 20% CPU and 250 KB of network.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pytest

from sandbox.fleet import Fleet, Trace
from sandbox.fleet.generator import FleetSpec, generate_fleet

QUIET_CPU = 1.5
QUIET_NET = 24_000
SPIKE_CPU = 20.0
SPIKE_NET = 250_000
HOUR = 12  # points
DAY = 24 * HOUR

BoolArray = npt.NDArray[np.bool_]


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    """The default demo fleet (300 instances, 21 days), in memory."""
    return generate_fleet(FleetSpec(seed=20261127))


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


def test_idle_instances_sit_at_their_noise_floor_from_idle_since(fleet: Fleet) -> None:
    idle = [iid for iid, when in fleet.labels.items() if when is not None]
    assert len(idle) > 60
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
        for iid in of_kind(fleet, "abandoned")
    )
    assert sum(d >= 14 for d in days) >= 0.4 * len(days)
    assert sum(d >= 19 for d in days) >= 3  # new idle instances appear in a live demo
    assert sum(d < 7 for d in days) >= 3
    assert len({int(d) for d in days}) >= 12  # spread over the horizon, not bunched


def test_idle_since_launch_kinds_are_idle_from_their_first_point(fleet: Fleet) -> None:
    for kind in ("idle-since-launch", "idle-with-spikes"):
        for iid in of_kind(fleet, kind):
            assert fleet.labels[iid] == fleet.traces[iid].start


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
