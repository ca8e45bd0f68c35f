"""Usage anomaly incidents of one metric: when one opens, when it ends, and nothing per point.

A metric's :class:`~detector.model.series.SeriesDetector` scores each point (novelty) and gives
the range of values it has seen (``expected()``). An :class:`Incident` adds the metric's
*usual* level: a slow average and average deviation of the points outside incidents, whose
``usual_high`` (average plus ``spread`` deviations, within the seen range) is the top of what
it expects, and the longest run of points above it seen lately (fading over four weeks). A
point is a **candidate** when it rises at least ``floor`` above that (a change too small to
matter never alerts) and either

* its **level** is new: it scores at least ``open_score`` and passes the seen range's top by
  ``margin`` of the range's width (a surge, a runaway process on an instance that rarely
  works hard), or
* its **duration** is new: the run of points above ``usual_high`` it belongs to has lasted
  an hour longer than ``duration`` times the longest one seen lately (a nightly job still
  running at noon, a process pinning CPU at a level the instance reaches only in short
  peaks).

An incident opens after ``confirm`` candidate points in a row and **closes** once ``calm``
points in a row are back at or under the top expected when it began (the detector meanwhile
learns the new level: its own range would soon call the surge normal while it still runs).
Each gives one :class:`Transition`, none in between. Only rises open incidents: a drop of
usage is the idle verdict's job, and a rise is what costs money or betrays a compromise.

An incident's whole state is one small record (``STATE`` packs it), kept with the rest of the
instance's model state, so an incident open when a worker dies is still open after the restart.

>>> inc = Incident("cpu_percent", floor=5.0)
>>> def step(t, value, score, low=2.0, high=10.0):
...     return inc.observe(t, value, score, low, high, may_open=True)
>>> [step(300 * k - 3000, 5.0 + k % 2, 0.0) for k in range(10)] == [None] * 10
True
>>> step(0, 40.0, 0.9) is None                      # one point: not yet confirmed
True
>>> t = step(300, 45.0, 0.9)
>>> t.status, t.since, t.observed, (t.expected_low, round(t.expected_high, 2))
('open', 0, 40.0, (2.0, 5.07))
>>> [step(600 + 300 * k, 90.0, 0.1, high=95.0) for k in range(2)]   # learnt or not, still open
[None, None]
>>> [step(1200 + 300 * k, 5.0, 0.0) for k in range(2)]
[None, None]
>>> t = step(1800, 5.0, 0.0)
>>> t.status, t.since, t.ended_at, t.observed
('closed', 0, 1200, 90.0)
>>> again = Incident("cpu_percent")
>>> again.load(inc.pack()); again.is_open, again.pack() == inc.pack()
(False, True)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

STATE = struct.Struct("<BBIHHdddddddd")
"""phase (none, pending, open), points counted in it (pending: candidates in a row; open: calm
points in a row), since (epoch s), the current run above the usual level and the length of the
last incident (points), peak,
expected low and high before it began, score and value of its first point, the usual level's
average and average deviation, the longest run above it seen lately."""
PERIOD_S = 300
"""Seconds per point (CloudWatch basic monitoring)."""
_NONE, _PENDING, _OPEN = range(3)
_USUAL = 1 / 288
"""Fading factor of the usual level (about a day of points)."""
_LONGEST_FADE = 1 / (28 * 288)
"""Per-point fading of the longest run above the usual level (a weekly job's run is still
three quarters of itself a week later)."""
_LONGER_BY = 12
"""Points (an hour) a run of new duration must last beyond ``duration`` longest runs."""


@dataclass(frozen=True)
class Transition:
    """An incident opening (``status="open"``) or ending (``"closed"``); times in epoch seconds.

    ``observed`` is the value that opened it, or when closed its peak; ``expected_low`` and
    ``expected_high`` the range expected before it began; ``at`` the point that made the
    transition; ``ended_at`` (closed) the first point back in range.
    """

    metric: str
    status: str
    since: int
    at: int
    observed: float
    expected_low: float
    expected_high: float
    score: float
    ended_at: int | None = None


@dataclass(frozen=True)
class IncidentRule:
    """When a metric's novelty becomes an incident: the thresholds every metric shares, and
    each metric's floor (how far above its expected range a point must be).

    ``history_s``: no incident opens before the instance has been watched this long (a week:
    a weekly job seen too briefly looks like an anomaly).

    >>> IncidentRule().incident("network_out_bytes").floor
    3000000.0
    """

    open_score: float = 0.5
    confirm: int = 2
    calm: int = 3
    cpu_floor: float = 10.0
    """Percentage points of CPU."""
    network_floor: float = 3e6
    """Bytes per 5-minute point (10 KB/s)."""
    spread: float = 3.0
    margin: float = 0.5
    duration: float = 2.5
    history_s: int = 7 * 86_400

    def incident(self, metric: str) -> Incident:
        """A fresh incident tracker of ``metric`` with these thresholds."""
        floor = self.cpu_floor if metric == "cpu_percent" else self.network_floor
        return Incident(
            metric,
            self.open_score,
            floor,
            self.confirm,
            self.calm,
            self.spread,
            self.margin,
            self.duration,
        )


class Incident:
    """The open-or-not incident of one metric, with its thresholds (parameters, not state).

    Parameters
    ----------
    metric
        The metric's name (as the point's feature).
    open_score
        The detector's score a point of new level needs.
    floor
        How far above the usual level (in the metric's units) a candidate must be.
    confirm
        Candidate points in a row that open an incident (each past the first is 5 minutes).
    calm
        Points in a row back in range that end it.
    spread
        Average deviations above the usual average that a point may be and still be usual.
    margin
        Share of the seen range's width a point of new level must pass its top by.
    duration
        How many times the longest run above the usual level (plus an hour) a run of new
        duration must last.
    """

    def __init__(
        self,
        metric: str,
        open_score: float = 0.5,
        floor: float = 0.0,
        confirm: int = 2,
        calm: int = 3,
        spread: float = 3.0,
        margin: float = 0.5,
        duration: float = 2.5,
    ) -> None:
        self.metric = metric
        self.open_score = open_score
        self.floor = floor
        self.confirm = confirm
        self.calm = calm
        self.spread = spread
        self.margin = margin
        self.duration = duration
        self._phase = _NONE
        self._count = 0
        self._since = 0
        self._run = self._length = 0
        self._peak = self._low = self._high = self._score = self._first = 0.0
        self._mean = self._dev = self._longest = 0.0

    @property
    def is_open(self) -> bool:
        return self._phase == _OPEN

    @property
    def peak(self) -> float:
        """The highest value of the open (else the last, or last pending) incident; 0 before any."""
        return self._peak

    def usual_high(self, low: float, high: float) -> float:
        """The top of the usual level, within the seen range ``low``..``high``."""
        return max(low, min(high, self._mean + self.spread * self._dev))

    def observe(
        self, at: int, value: float | None, score: float, low: float, high: float, may_open: bool
    ) -> Transition | None:
        """Follow one point (``at``: its period's start) scored ``score``, ``low``..``high``
        being the range seen before it; the transition it makes, if any. ``may_open``: whether
        this point may open an incident (enough history, at the live edge)."""
        if value is None:
            return None
        usual = self.usual_high(low, high)
        longer = self._run + 1 > self.duration * self._longest + _LONGER_BY
        self._follow_run(value > usual)
        if self._phase == _OPEN:
            return self._calm_down(at, value)
        if self._phase == _NONE:
            new_level = score >= self.open_score and value >= high + self.margin * (high - low)
            if not (may_open and value - usual >= self.floor and (new_level or longer)):
                self._learn(value, usual)
                return None
            self._phase, self._count, self._since = _PENDING, 0, at
            self._first = self._peak = value
            self._low, self._high, self._score = low, usual, score
        return self._confirm(at, value, may_open)

    def _follow_run(self, above: bool) -> None:
        """Count the run above the usual level; a run that ends may be the longest yet."""
        self._longest *= 1 - _LONGEST_FADE
        if above:
            self._run = min(self._run + 1, 65_535)
            return
        if self._phase == _NONE:  # an incident's run is not the instance's normal
            self._longest = max(self._longest, float(self._run))
        self._run = 0

    def _confirm(self, at: int, value: float, may_open: bool) -> Transition | None:
        """A pending incident opens once ``confirm`` points in a row stayed ``floor`` above the
        top expected at its first point (the detector's score may already have faded)."""
        if not (may_open and value - self._high >= self.floor):
            self._phase, self._count = _NONE, 0
            self._learn(value, self._high)
            return None
        self._count += 1
        self._peak = max(self._peak, value)
        if self._count < self.confirm:
            return None
        self._phase, self._count = _OPEN, 0
        return Transition(
            self.metric, "open", self._since, at, self._first, self._low, self._high, self._score
        )

    def _learn(self, value: float, usual: float) -> None:
        """Follow the usual level with a point outside any incident, cut at ``floor`` above the
        usual top (a day's fading; cut, so that hours of a job's level do not make it usual)."""
        if self._mean == self._dev == 0.0:
            self._mean = value
        value = min(value, usual + self.floor)
        self._mean += _USUAL * (value - self._mean)
        self._dev += _USUAL * (abs(value - self._mean) - self._dev)

    def _calm_down(self, at: int, value: float) -> Transition | None:
        self._peak = max(self._peak, value)
        if value > self._high:
            self._count = 0
            return None
        self._count += 1
        if self._count < self.calm:
            return None
        return self.close(at, at - (self.calm - 1) * PERIOD_S)

    def close(self, at: int, ended_at: int) -> Transition | None:
        """End the open incident (it calmed down, or a person called its level expected);
        forget a pending one. The closing transition, if one was open."""
        was_open = self._phase == _OPEN
        self._phase, self._count = _NONE, 0
        if not was_open:
            return None
        self._length = min((ended_at - self._since) // PERIOD_S, 65_535)
        return Transition(
            self.metric,
            "closed",
            self._since,
            at,
            self._peak,
            self._low,
            self._high,
            self._score,
            ended_at,
        )

    def accept(self, at: int) -> Transition | None:
        """A person called the last incident's level expected: its peak is usual for now (the
        usual level fades back as it learns) and a run as long as it lasted is usual from now
        on; an open one closes at ``at`` (the transition)."""
        length = (at - self._since) // PERIOD_S if self.is_open else self._length
        self._longest = max(self._longest, float(length))
        if self._peak > 0:
            self._mean = max(self._mean, self._peak - self.spread * self._dev)
        self._run = 0
        return self.close(at, at)

    def pack(self) -> bytes:
        """The state as ``STATE`` bytes."""
        return STATE.pack(
            self._phase,
            min(self._count, 255),
            self._since,
            self._run,
            self._length,
            self._peak,
            self._low,
            self._high,
            self._score,
            self._first,
            self._mean,
            self._dev,
            self._longest,
        )

    def load(self, data: bytes) -> None:
        """Restore what :meth:`pack` returned."""
        fields = STATE.unpack(data)
        self._phase, self._count, self._since, self._run, self._length = fields[:5]
        self._peak, self._low, self._high, self._score, self._first = fields[5:10]
        self._mean, self._dev, self._longest = fields[10:]
