"""Anchor rules for the idle benchmark: what the AWS consoles would flag on the same fleet.

Each rule is a small per-instance judge with the model's interface (``learn_one(point)`` in
time order, then ``status()``: ``"idle"`` or ``"active"``), so one replay scores the model and
the anchors alike. Both keep per-UTC-day totals of the trailing 14 days and judge when a day
closes (its last 5-minute point is learnt); the status holds until the next day closes. At the
connection time of an account the status is the one judged on the 14 days before it.

* :class:`TrustedAdvisor`: Trusted Advisor's low-utilisation check, daily CPU at most 10 %
  and daily network (in + out) at most 5 MB on at least 4 of the last 14 days;
* :class:`AverageCpu`: the 14-day average CPU below 5 %.

>>> from datetime import datetime, timedelta, timezone
>>> start = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> rule = TrustedAdvisor()
>>> for i in range(4 * 288 - 1):              # four quiet days, less their last point
...     rule.learn_one(Point(start + timedelta(minutes=5 * i), 0.5, 2_000.0, 1_000.0))
>>> rule.status()                             # three days closed: not yet
'active'
>>> rule.learn_one(Point(start + timedelta(minutes=5 * (4 * 288 - 1)), 0.5, 2_000.0, 1_000.0))
>>> rule.status()
'idle'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from detector.scoring import Point
from sandbox.fleet.model import STEP_SECONDS

DAY_SECONDS = 86_400
WINDOW_DAYS = 14
MB = 1_000_000.0


@dataclass(frozen=True)
class DayTotals:
    """One UTC day of an instance: CPU summed over its points, their count, network bytes."""

    cpu_sum: float
    points: int
    network_bytes: float

    @property
    def cpu_mean(self) -> float:
        """The day's average CPU percent."""
        return self.cpu_sum / self.points


class DailyRule:
    """Per-UTC-day totals of the trailing 14 days; :meth:`judge` decides when a day closes."""

    name = ""
    rule = ""

    def __init__(self) -> None:
        self._days: deque[DayTotals] = deque(maxlen=WINDOW_DAYS)
        self._day = -1
        self._cpu = 0.0
        self._points = 0
        self._network = 0.0
        self._idle = False

    def learn_one(self, x: Point) -> None:
        """Add ``x`` to its UTC day; judge when the day's last period has been learnt."""
        when = int(x.timestamp.timestamp())
        day = when // DAY_SECONDS
        if day != self._day and self._points:
            self._close()
        self._day = day
        self._cpu += x.cpu_percent or 0.0
        self._network += (x.network_in_bytes or 0.0) + (x.network_out_bytes or 0.0)
        self._points += 1
        if (when + STEP_SECONDS) % DAY_SECONDS == 0:
            self._close()

    def status(self) -> str:
        """``idle`` when the rule held at the last day's close, else ``active``."""
        return "idle" if self._idle else "active"

    def judge(self, days: deque[DayTotals]) -> bool:
        """Whether the rule flags the instance on these days (oldest first)."""
        raise NotImplementedError

    def _close(self) -> None:
        self._days.append(DayTotals(self._cpu, self._points, self._network))
        self._cpu, self._points, self._network = 0.0, 0, 0.0
        self._idle = self.judge(self._days)


class TrustedAdvisor(DailyRule):
    """Daily CPU at most 10 % and daily network at most 5 MB on at least 4 of the last 14 days."""

    name = "trusted-advisor"
    rule = "daily CPU <= 10% and network <= 5 MB on >= 4 of the last 14 days"

    def judge(self, days: deque[DayTotals]) -> bool:
        """At least four low days in the window."""
        low = sum(d.cpu_mean <= 10.0 and d.network_bytes <= 5 * MB for d in days)
        return low >= 4


class AverageCpu(DailyRule):
    """The average CPU over the last 14 days below 5 %."""

    name = "cpu-average-under-5"
    rule = "14-day average CPU < 5%"

    def judge(self, days: deque[DayTotals]) -> bool:
        """The window's average CPU under 5 %."""
        return sum(d.cpu_sum for d in days) / sum(d.points for d in days) < 5.0


ANCHORS: tuple[type[DailyRule], ...] = (TrustedAdvisor, AverageCpu)
"""The anchor rules the benchmark scores beside the model."""
