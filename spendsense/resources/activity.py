"""Daily activity of a metric kind and the rule that judges it: quiet for longer than its
history explains.

A resource's history is one flag per UTC day since it existed (at most the lookback): active
when any of its metrics was non-zero that day. It is waste when its trailing quiet run is
longer than ``quiet_min_days`` and longer than ``quiet_factor`` times the longest quiet gap
between two active days of its history, so a month-end, weekly or nightly user is never
flagged; with less than ``min_history_days`` of history such a run is only provisional.

>>> start = datetime(2026, 9, 1, tzinfo=UTC)
>>> month_end = History(start, tuple(d in (29, 59) for d in range(63)))
>>> month_end.trailing_quiet(), month_end.longest_gap()
(3, 29)
>>> abandoned = History(start, tuple(d < 40 for d in range(63)))
>>> abandoned.trailing_quiet(), abandoned.longest_gap()
(23, 0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spendsense.resources.registry import Verdict, WasteRules

DAY = timedelta(days=1)


@dataclass(frozen=True)
class History:
    """Active flags per UTC day from ``start`` (midnight), the last one today's (partial)."""

    start: datetime
    active: tuple[bool, ...]

    @property
    def days(self) -> int:
        return len(self.active)

    def trailing_quiet(self) -> int:
        """Days since the last active one (all of them when it never was)."""
        run = 0
        for flag in reversed(self.active):
            if flag:
                break
            run += 1
        return run

    def longest_active_run(self) -> int:
        """The longest run of active days."""
        longest = run = 0
        for flag in self.active:
            run = run + 1 if flag else 0
            longest = max(longest, run)
        return longest

    def longest_gap(self) -> int:
        """The longest run of quiet days between two active days (0 with fewer than two)."""
        marks = [i for i, flag in enumerate(self.active) if flag]
        return max((b - a - 1 for a, b in pairwise(marks)), default=0)


def day_floor(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day.

    >>> day_floor(datetime(2026, 11, 3, 17, 5, tzinfo=UTC)).isoformat()
    '2026-11-03T00:00:00+00:00'
    """
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def lookback_start(now: datetime, days: int) -> datetime:
    """The first day (midnight UTC) of a ``days``-day history ending with ``now``'s day."""
    return day_floor(now) - (days - 1) * DAY


def history_from(
    points: Iterable[tuple[datetime, float]],
    start: datetime,
    now: datetime,
    created_at: datetime | None,
) -> History:
    """The history from ``start`` (or the resource's creation day, if later) to ``now``'s day,
    given every metric's daily points (a day without a point was quiet).

    >>> t0 = datetime(2026, 11, 1, tzinfo=UTC)
    >>> h = history_from([(t0 + DAY, 5.0), (t0 + 2 * DAY, 0.0)], t0, t0 + 3 * DAY, None)
    >>> h.active
    (False, True, False, False)
    """
    first = max(start, day_floor(created_at)) if created_at is not None else start
    days = (day_floor(now) - first) // DAY + 1
    active = [False] * max(days, 0)
    for moment, value in points:
        index = (day_floor(moment) - first) // DAY
        if 0 <= index < len(active) and value > 0:
            active[index] = True
    return History(first, tuple(active))


def judge_activity(what: str, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
    """The verdict on a metric kind's history (``what`` names the activity in the reason).

    >>> from spendsense.resources.registry import WasteRules
    >>> now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    >>> weekly = History(lookback_start(now, 63), tuple(d % 7 == 5 for d in range(63)))
    >>> judge_activity("requests", weekly, now, WasteRules()).waste
    False
    >>> gone_quiet = History(lookback_start(now, 63), tuple(d < 30 for d in range(63)))
    >>> v = judge_activity("requests", gone_quiet, now, WasteRules())
    >>> v.waste, v.reason
    (True, 'no requests for 33 days (its history never had a quiet gap over 0 days)')
    >>> young = History(lookback_start(now, 10), (True,) + (False,) * 9)
    >>> judge_activity("requests", young, now, WasteRules()).provisional
    True

    One spell of activity tells no cadence (a monthly job's first run), so its quiet run must
    outlast a month before it is waste:

    >>> once = History(lookback_start(now, 30), tuple(d == 20 for d in range(30)))
    >>> v = judge_activity("requests", once, now, WasteRules())
    >>> v.waste, v.provisional, v.reason
    (False, True, 'no requests for 9 days after one short spell of activity: its cadence is unknown for 35 days')
    """
    from spendsense.resources.registry import OK, Verdict

    if history is None or not history.days:
        return OK
    quiet = history.trailing_quiet()
    gap = history.longest_gap()
    if quiet <= rules.quiet_min_days or quiet <= rules.quiet_factor * gap:
        return OK
    since = history.start + (history.days - quiet) * DAY
    spell = history.longest_active_run()
    if gap == 0 and 0 < spell < rules.quiet_min_days and quiet <= rules.unknown_cadence_days:
        return Verdict(
            provisional=True,
            reason=f"no {what} for {quiet} days after one short spell of activity: its "
            f"cadence is unknown for {rules.unknown_cadence_days} days",
            since=since,
        )
    if history.days < rules.min_history_days:
        return Verdict(
            provisional=True,
            reason=f"no {what} for {quiet} days, but only {history.days} days of history seen",
            since=since,
        )
    return Verdict(
        waste=True,
        reason=f"no {what} for {quiet} days (its history never had a quiet gap over {gap} days)",
        since=since,
    )
