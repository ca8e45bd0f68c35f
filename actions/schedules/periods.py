"""Weekly periods in a time zone: when a schedule wants its instances running.

A schedule is a time zone and weekly periods, each ``{"days": ["mon", ...], "start":
"08:00", "end": "19:00"}`` in local wall time. ``end`` may be ``"24:00"`` (midnight after
the day) or earlier than ``start`` (the period runs past midnight into the next day).
The instances run inside the periods and are stopped outside them.

How the edge cases behave (``tests/actions/test_schedule_periods.py``):

- **Overlapping or touching periods** count as their union: Mon 08:00-12:00 and Mon
  10:00-19:00 are one period 08:00-19:00 (no stop at 12:00, no start at 10:00).
- **A local time that does not exist** (the hour skipped when clocks spring forward) is
  moved forward by the gap: 02:30 on the spring-forward day in New York is 03:30 EDT. A
  period 01:30-03:00 that day lasts 30 real minutes (01:30 EST to 03:00 EDT).
- **A local time that happens twice** (the hour repeated when clocks fall back) is its
  first occurrence: 01:30 on the fall-back day in New York is 01:30 EDT. A period
  01:30-03:00 that day lasts two and a half real hours.
- **A schedule edited mid-period**: these functions only read the definition they are
  given, so the scheduler's next tick applies the new one. If the instance is then on the
  same side (inside or outside the periods) as what the scheduler last did to it within
  the new definition's current stretch, nothing happens; otherwise it acts at that tick
  (:mod:`actions.schedules.scheduler`).

>>> office = WeeklySchedule.of("Europe/Berlin", [{"days": ["mon", "tue", "wed", "thu", "fri"],
...                                                "start": "08:00", "end": "19:00"}])
>>> monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)      # 12:00 in Berlin
>>> in_period(office, monday_noon)
True
>>> next_transition(office, monday_noon)
Transition(at=datetime.datetime(2026, 12, 7, 18, 0, tzinfo=datetime.timezone.utc), action='stop')
>>> next_transition(office, datetime(2026, 12, 11, 20, 0, tzinfo=UTC))  # Friday night
Transition(at=datetime.datetime(2026, 12, 14, 7, 0, tzinfo=datetime.timezone.utc), action='start')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as periods spell them, Monday first (``datetime.weekday()`` order)."""

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WINDOW_DAYS = 9
"""Local days either side of ``now`` whose periods are laid out (a week and margin: every
period is at most 24 hours long, so a week either side holds a transition if any exists)."""


class PeriodError(ValueError):
    """A schedule definition that cannot be used; the message says what to fix."""


def _clock(value: object, what: str, *, allow_midnight_end: bool = False) -> time | None:
    """``"HH:MM"`` as a time; ``"24:00"`` (only for an end) as None."""
    if allow_midnight_end and value == "24:00":
        return None
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise PeriodError(f"{what} must be a time as HH:MM (00:00 to 23:59), not {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Period:
    """One weekly period: on ``days`` (0 = Monday), from ``start`` to ``end`` local time
    (``end`` None: midnight after the day; ``end`` not after ``start``: the next day)."""

    days: tuple[int, ...]
    start: time
    end: time | None

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> Period:
        """A period from its JSON form; PeriodError says what is wrong.

        >>> Period.parse({"days": ["sat"], "start": "22:00", "end": "02:00"}).days
        (5,)
        >>> Period.parse({"days": ["funday"], "start": "08:00", "end": "19:00"})
        Traceback (most recent call last):
        ...
        actions.schedules.periods.PeriodError: days must be among mon, tue, wed, thu, fri, sat, sun, not 'funday'
        """
        days = raw.get("days")
        if not isinstance(days, list | tuple) or not days:
            raise PeriodError('days must be a non-empty list such as ["mon", "fri"]')
        for day in days:
            if day not in DAYS:
                raise PeriodError(f"days must be among {', '.join(DAYS)}, not {day!r}")
        start = _clock(raw.get("start"), "start")
        end = _clock(raw.get("end"), "end", allow_midnight_end=True)
        assert start is not None
        if end == start:
            raise PeriodError("a period's end must differ from its start")
        return cls(tuple(sorted({DAYS.index(d) for d in days})), start, end)

    def as_json(self) -> dict[str, object]:
        """The JSON form :meth:`parse` reads."""
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return {
            "days": [DAYS[d] for d in self.days],
            "start": self.start.strftime("%H:%M"),
            "end": end,
        }

    def on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """This period on local ``day`` as a UTC interval (see the module's DST rules)."""
        start = datetime.combine(day, self.start, tzinfo=zone)
        end_day = day if self.end is not None and self.end > self.start else day + timedelta(1)
        end = datetime.combine(end_day, self.end or time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class WeeklySchedule:
    """A time zone and weekly periods, as a schedule defines them."""

    zone: ZoneInfo
    periods: tuple[Period, ...]

    @classmethod
    def of(cls, time_zone: str, periods: Iterable[Mapping[str, object]]) -> WeeklySchedule:
        """Parse a definition; PeriodError says what to fix.

        >>> WeeklySchedule.of("Mars/Olympus", [])
        Traceback (most recent call last):
        ...
        actions.schedules.periods.PeriodError: time zone 'Mars/Olympus' is not an IANA time zone such as Europe/Berlin
        """
        if time_zone not in available_timezones():
            raise PeriodError(
                f"time zone {time_zone!r} is not an IANA time zone such as Europe/Berlin"
            )
        try:
            zone = ZoneInfo(time_zone)
        except ZoneInfoNotFoundError:  # pragma: no cover - listed but not loadable
            raise PeriodError(f"time zone {time_zone!r} cannot be loaded") from None
        return cls(zone, tuple(Period.parse(p) for p in periods))


@dataclass(frozen=True)
class Transition:
    """When the schedule next changes its mind: ``start`` or ``stop`` at ``at`` (UTC)."""

    at: datetime
    action: str


def intervals(schedule: WeeklySchedule, now: datetime) -> list[tuple[datetime, datetime]]:
    """The schedule's periods around ``now`` as merged UTC intervals (overlaps united)."""
    today = now.astimezone(schedule.zone).date()
    raw = sorted(
        period.on(today + timedelta(offset), schedule.zone)
        for offset in range(-_WINDOW_DAYS, _WINDOW_DAYS + 1)
        for period in schedule.periods
        if (today + timedelta(offset)).weekday() in period.days
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in raw:
        if end <= start:
            continue  # a period wholly inside a skipped hour
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def in_period(schedule: WeeklySchedule, now: datetime) -> bool:
    """Whether ``now`` is inside one of the periods (start included, end excluded)."""
    return any(start <= now < end for start, end in intervals(schedule, now))


def _transitions(schedule: WeeklySchedule, now: datetime) -> list[Transition]:
    """Every transition within a week either side of ``now``, in time order."""
    week = timedelta(days=7)
    out = []
    for start, end in intervals(schedule, now):
        out.append(Transition(start, "start"))
        out.append(Transition(end, "stop"))
    return [t for t in out if now - week <= t.at <= now + week]


def next_transition(schedule: WeeklySchedule, now: datetime) -> Transition | None:
    """The first transition after ``now``; None if the schedule never changes its mind
    (no periods, or periods covering the whole week)."""
    return next((t for t in _transitions(schedule, now) if t.at > now), None)


def last_transition(schedule: WeeklySchedule, now: datetime) -> Transition | None:
    """The latest transition at or before ``now`` (the start of the current stretch)."""
    past = [t for t in _transitions(schedule, now) if t.at <= now]
    return past[-1] if past else None
