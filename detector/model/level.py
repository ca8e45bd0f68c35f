"""Each instance's own rest level: the CPU and network its agents keep when nobody uses it.

Real idle machines rarely sit at zero: a monitoring agent's flushes, an idle JVM's garbage
collection or Windows' services keep CPU at 1-6 % and network at a few hundred bytes to a few
KB per second. :class:`RestLevel` learns that level per instance, online:

* the **floor** of each metric is the lowest its short average (a fading mean over about
  three points) has been, following a drop at once and a rise slowly (over about a week), so it
  is the level the instance returns to when nothing happens, not its one quietest point;
* a point is **at rest** when its CPU and network are within a margin of their floors *and*
  under the tenant's absolute :class:`~detector.model.points.Ceilings` (CPU 10 %, network
  10 KB/s by default): a box whose agents sit at 3 % rests at 3 %, a server whose quietest hour
  still moves 50 KB/s never rests;
* **what activity looks like**: fading means of CPU and network over the points that were not
  at rest, and the rest level itself (fading means over the points that were), for the verdict's
  reason.

>>> level = RestLevel()
>>> for i in range(300):                     # an idle JVM: a GC sawtooth between 2 and 4 %
...     level.learn(2.0 + (i % 8) / 4, 900.0)
>>> round(level.floor_cpu, 1), level.is_rest(3.5, 1_000.0), level.is_rest(3.5, 80_000.0)
(2.1, True, False)
>>> level.is_rest(12.0, 1_000.0)             # over the CPU ceiling
False
"""

from __future__ import annotations

from detector.model.points import Ceilings

_SHORT = 0.3
"""Fading factor of the short averages the floors follow (about three points)."""
_RISE = 1.0 / 2016
"""Per-point pull of a floor up towards the short average (2016 points: a week of 5 minutes)."""
_MEANS = 0.02
"""Fading factor of the rest and busy means (about 50 points)."""
CPU_MARGIN = 3.0
"""Percentage points above the CPU floor that still count as rest (agents' jitter)."""
NET_MARGIN = 2_000.0
"""Bytes per second above the network floor that still count as rest (flushes, scrapes)."""

_STATE = (
    "seen",
    "short_cpu",
    "short_net",
    "floor_cpu",
    "floor_net",
    "rest_cpu",
    "rest_net",
    "busy_cpu",
    "busy_net",
)
"""The learnt state's attributes, in the order the state bytes hold them."""
STATE_FIELDS = len(_STATE)


class RestLevel:
    """The learnt rest level of one instance and its upper limits.

    ``ceilings`` cap the limits whatever was learnt; they are a parameter, not state.
    """

    def __init__(self, ceilings: Ceilings | None = None) -> None:
        self.ceilings = ceilings or Ceilings()
        self.seen = 0.0
        self.short_cpu = self.short_net = 0.0
        self.floor_cpu = self.floor_net = 0.0
        self.rest_cpu = self.rest_net = 0.0
        self.busy_cpu = self.busy_net = 0.0

    def cpu_limit(self) -> float:
        """Highest CPU percent at rest: the floor doubled plus 1, or the floor plus 3, capped."""
        floor = self.floor_cpu
        return min(self.ceilings.cpu_percent, max(2.0 * floor + 1.0, floor + CPU_MARGIN))

    def net_limit(self) -> float:
        """Highest network (in + out, B/s) at rest: three times the floor or the floor + 2 KB/s."""
        floor = self.floor_net
        return min(self.ceilings.network_bps, max(3.0 * floor, floor + NET_MARGIN))

    def is_rest(self, cpu: float | None, net: float | None) -> bool | None:
        """Whether a point is at this instance's rest level (``None``: nothing to judge).

        Rest needs both metrics: a point with CPU alone (a CPU-only poll of a busy instance)
        can show work but not rest, since a low CPU says nothing of the traffic it serves.
        Before any point is learnt only the ceilings apply.

        >>> RestLevel().is_rest(3.0, None) is None, RestLevel().is_rest(30.0, None)
        (True, False)
        """
        if cpu is not None and cpu > (self.cpu_limit() if self.seen else self.ceilings.cpu_percent):
            return False
        if net is not None and net > (self.net_limit() if self.seen else self.ceilings.network_bps):
            return False
        return None if cpu is None or net is None else True

    def within_ceilings(self, net: float | None) -> bool:
        """Whether a point's network stays under the ceiling (a burst that moves no real data)."""
        return net is None or net <= self.ceilings.network_bps

    def learn(self, cpu: float | None, net: float | None, rest: bool | None = None) -> None:
        """Follow one point; ``rest`` says how it was judged (for the rest and busy means)."""
        if cpu is None and net is None:
            return
        first = not self.seen
        self.seen = 1.0
        if cpu is not None:
            self.short_cpu = cpu if first else self.short_cpu + _SHORT * (cpu - self.short_cpu)
            self.floor_cpu = _follow(self.floor_cpu, self.short_cpu, first)
        if net is not None:
            self.short_net = net if first else self.short_net + _SHORT * (net - self.short_net)
            self.floor_net = _follow(self.floor_net, self.short_net, first)
        if rest is None:
            return
        if rest:
            self.rest_cpu = _fade(self.rest_cpu, cpu)
            self.rest_net = _fade(self.rest_net, net)
        else:
            self.busy_cpu = _fade(self.busy_cpu, cpu)
            self.busy_net = _fade(self.busy_net, net)

    def state(self) -> tuple[float, ...]:
        """The learnt state as ``STATE_FIELDS`` floats."""
        return tuple(getattr(self, name) for name in _STATE)

    def load_state(self, values: tuple[float, ...]) -> None:
        """Restore what ``state()`` returned."""
        for name, value in zip(_STATE, values, strict=True):
            setattr(self, name, value)


def _follow(floor: float, short: float, first: bool) -> float:
    """A floor after the short average moved to ``short``: down at once, up slowly."""
    if first or short <= floor:
        return short
    return floor + _RISE * (short - floor)


def _fade(mean: float, value: float | None) -> float:
    """A fading mean after ``value`` (the first value when the mean is still 0)."""
    if value is None:
        return mean
    return value if mean == 0.0 else mean + _MEANS * (value - mean)
