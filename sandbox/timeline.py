"""The trace fleet replayed in sandbox time: which 5-minute points exist, and when.

The fleet's timeline is shifted so that its first ``history_days`` of trace end at the
sandbox's start (aligned down to 5 minutes); everything after that plays live. The point
for the period ``[t, t + 5 min)`` is visible once ``t + 5 min <= now`` on the sandbox
clock. Past the end of a trace the last week repeats (weekly jobs stay weekly, idle
stays idle). No point exists before an instance's launch or while it is stopped. The fleet's
other resources' metric series (which may begin before its instances' traces) are shifted
the same way.

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> from sandbox.fleet.model import Trace
>>> replay_index(np.arange(5), length=3, week=2).tolist()
[0, 1, 2, 1, 2]
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sandbox.clock import SandboxClock
from sandbox.fleet import Fleet, FleetInstance, Trace
from sandbox.resource_metrics import ResourceDirectory
from spendsense.ec2_metrics import BY_NAME

STEP_S = 300
WEEK_STEPS = 7 * 24 * 12

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def replay_index(index: IntArray, length: int, week: int = WEEK_STEPS) -> IntArray:
    """Trace indices for ``index``, replaying the last ``week`` points past the end."""
    past = length - week + (index - length) % week if length >= week else index % length
    return np.where(index < length, index, past)


@dataclass
class PowerLog:
    """When an instance was stopped, as ``(stopped_at, started_at or None)`` intervals."""

    intervals: list[tuple[float, float | None]] = field(default_factory=list)

    def stop(self, at: float) -> None:
        if not self.intervals or self.intervals[-1][1] is not None:
            self.intervals.append((at, None))

    def start(self, at: float) -> None:
        if self.intervals and self.intervals[-1][1] is None:
            self.intervals[-1] = (self.intervals[-1][0], at)

    def running(self, slots: IntArray) -> npt.NDArray[np.bool_]:
        """Whether the instance ran through each 5-minute slot starting at ``slots``."""
        ok = np.ones(slots.shape, dtype=bool)
        for stopped, started in self.intervals:
            end = np.inf if started is None else started
            ok &= ~((slots + STEP_S > stopped) & (slots < end))
        return ok


class Timeline:
    """Fleet traces in sandbox time, with each instance's launch and stop history."""

    def __init__(self, fleet: Fleet, clock: SandboxClock, history_days: int = 14) -> None:
        self.fleet = fleet
        self.clock = clock
        start = int(clock.start) // STEP_S * STEP_S
        self.shift = start - (int(fleet.start.timestamp()) + history_days * 86400)
        self.power: dict[str, PowerLog] = {iid: PowerLog() for iid in fleet.instances}
        self.terminated: dict[str, float] = {}
        self.directory = ResourceDirectory(fleet)
        starts = [fleet.start, *(series.start for series in fleet.series.values())]
        self.earliest = int(min(starts).timestamp()) + self.shift
        self._lock = threading.Lock()
        for iid, instance in fleet.instances.items():
            if instance.state in {"stopped", "terminated"}:
                self.power[iid].stop(clock.start)
            if instance.state == "terminated":
                self.terminated[iid] = clock.start

    def sandbox_time(self, fleet_epoch: float) -> float:
        """The sandbox epoch of a fleet timestamp (labels, launch times)."""
        return fleet_epoch + self.shift

    def launch_time(self, instance: FleetInstance) -> float:
        """The instance's launch time in sandbox epoch seconds."""
        return self.sandbox_time(instance.launch_time.timestamp())

    def record(self, instance_id: str, state: str) -> None:
        """Note a state change (``stopped``, ``running``, ``terminated``) at sandbox now."""
        log = self.power.get(instance_id)
        if log is None:
            return
        with self._lock:
            now = self.clock.now()
            if state == "running":
                log.start(now)
            else:
                log.stop(now)
            if state == "terminated":
                self.terminated.setdefault(instance_id, now)

    def exists(self, instance_id: str, slots: IntArray) -> npt.NDArray[np.bool_]:
        """Whether the instance (and its root volume) existed at each slot: launched, not terminated."""
        instance = self.fleet.instances[instance_id]
        ended = self.terminated.get(instance_id, np.inf)
        return (slots >= self.launch_time(instance) // STEP_S * STEP_S) & (slots < ended)

    def running(self, instance_id: str, slots: IntArray) -> npt.NDArray[np.bool_]:
        """Whether the instance was launched and running through each slot (sandbox epoch)."""
        with self._lock:
            ok = self.power[instance_id].running(slots)
        return ok & self.exists(instance_id, slots)

    def slots(self, start: float, end: float) -> IntArray:
        """Slot starts ``t`` on the 5-minute grid with ``start <= t < end`` and ``t + 5 min <= now``."""
        first = max(-(-math.ceil(start) // STEP_S) * STEP_S, self.earliest)
        stop = min(math.ceil(end), math.floor(self.clock.now()) - STEP_S + 1)
        return np.arange(first, max(stop, first), STEP_S, dtype=np.int64)

    def values(self, instance_id: str, metric: str, slots: IntArray) -> tuple[IntArray, FloatArray]:
        """The points of ``metric`` that exist at ``slots``: their timestamps and values."""
        trace: Trace = self.fleet.traces[instance_id]
        first = int(trace.start.timestamp()) + self.shift
        index = (slots - first) // STEP_S
        keep = (index >= 0) & self.running(instance_id, slots)
        index = replay_index(index[keep], len(trace))
        column: FloatArray = getattr(trace, BY_NAME[metric].field)
        return slots[keep], column[index]

    def resource_values(
        self, resource_id: str, column: str, slots: IntArray
    ) -> tuple[IntArray, FloatArray]:
        """The points of a resource's metric ``column`` that exist at ``slots`` (past the
        end of its series, its last week replays)."""
        series = self.fleet.series[resource_id]
        index = (slots - (int(series.start.timestamp()) + self.shift)) // STEP_S
        keep = index >= 0
        return slots[keep], series.columns[column][replay_index(index[keep], len(series))]
