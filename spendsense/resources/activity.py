"""Daily activity of a metric kind and the rule that judges it: quiet for longer than its
history explains.

A resource's history is one flag per UTC day since it existed (at most the lookback): active
when any of its metrics rose above that metric's own rest level that day. Idle resources are
rarely at zero: an internet-facing load balancer with no healthy target still counts scanners'
requests, a NAT gateway carries the agents' chatter of the instances behind it, a database
keeps its monitoring agent's connection. Each metric's *floor* is learnt from the resource's
own history (:func:`rest_floor`: the lowest three-day median of its complete days) and its
:class:`RestAllowance` says how far above the floor a day may go and still be rest, under an
absolute ceiling no resting resource passes. A metric that declares no allowance keeps the
clean floor: any non-zero day is active. It is waste when its trailing quiet run is
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spendsense.resources.registry import Verdict, WasteRules

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RestAllowance:
    """How far above its learnt floor one metric's daily value may go and still be rest:
    ``factor`` times the floor or the floor plus ``margin``, whichever is higher, but never
    above ``ceiling``, the most background a resting resource shows in a day (a day over it
    is use, whatever the floor: steady use is not rest because it is steady). A silent
    resource (floor 0) has no background to allow for: any value over zero is use. The
    default is that clean floor for every resource.

    >>> scanners = RestAllowance(margin=100, factor=3, ceiling=300)
    >>> scanners.limit(0.0), scanners.limit(60.0), scanners.limit(150.0), scanners.limit(900.0)
    (0.0, 180.0, 300, 300)
    >>> RestAllowance().limit(7.0)
    0.0
    """

    margin: float = 0.0
    factor: float = 1.0
    ceiling: float = 0.0

    def limit(self, floor: float) -> float:
        """The highest daily value that is still rest, given the metric's floor."""
        if floor <= 0:
            return 0.0
        return min(self.ceiling, max(self.factor * floor, floor + self.margin))


CLEAN_FLOOR = RestAllowance()
"""Any non-zero day is use (what :attr:`~spendsense.resources.registry.WasteRules.rest_levels`
off judges every metric by)."""


@dataclass(frozen=True)
class History:
    """Active flags per UTC day from ``start`` (midnight), the last one today's (partial);
    ``at_rest_level``: some metric's rest level was above zero (its quiet days are not
    silent, so the verdict says "above its rest level")."""

    start: datetime
    active: tuple[bool, ...]
    at_rest_level: bool = False

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


def rest_floor(values: Sequence[float]) -> float:
    """A metric's floor: the lowest median of three consecutive complete days (``values``
    without its last, partial day), so one outage day at zero or one quiet day of a busy
    resource does not pass for its rest level; with fewer than three complete days, the
    lowest of them (0 with none).

    >>> rest_floor([120, 80, 0, 95, 110, 300, 20])   # the last day is today's, partial
    80
    >>> rest_floor([5e8, 7e8, 6e8, 4e8, 3e7])
    600000000.0
    >>> rest_floor([40, 3])
    40
    """
    complete = list(values[:-1])
    if len(complete) < 3:
        return min(complete, default=0.0)
    return min(sorted(complete[i : i + 3])[1] for i in range(len(complete) - 2))


def history_from(
    series: Iterable[tuple[RestAllowance, str, Iterable[tuple[datetime, float]]]],
    start: datetime,
    now: datetime,
    created_at: datetime | None,
) -> History:
    """The history from ``start`` (or the resource's creation day, if later) to ``now``'s day,
    given each metric's allowance, statistic (``Sum``: a day's points add up; ``Maximum``:
    the highest counts) and daily points: a day is active when some metric
    passed its limit over its own floor. A day without a point is zero (CloudWatch sends no
    request count for a day without requests), but days before the first point of any metric
    are not known, so the history starts at that point (it is all of the span when there is
    none: a resource that never showed a metric).

    >>> t0 = datetime(2026, 11, 1, tzinfo=UTC)
    >>> clean = [(RestAllowance(), "Sum", [(t0 + DAY, 5.0), (t0 + 3 * DAY, 0.0)])]
    >>> h = history_from(clean, t0, t0 + 4 * DAY, None)
    >>> h.start == t0 + DAY, h.active
    (True, (True, False, False, False))

    A load balancer's scanners send 150-220 requests a day; a weekly job adds a thousand:

    >>> noisy = [(t0 + d * DAY, 150.0 + (d % 3) * 35 + (1000 if d % 7 == 4 else 0))
    ...          for d in range(15)]
    >>> h = history_from([(RestAllowance(100, 3, 500), "Sum", noisy)], t0, t0 + 14 * DAY, None)
    >>> [d for d, active in enumerate(h.active) if active], h.at_rest_level
    ([4, 11], True)
    """
    first = max(start, day_floor(created_at)) if created_at is not None else start
    days = max((day_floor(now) - first) // DAY + 1, 0)
    metrics: list[tuple[RestAllowance, list[float]]] = []
    seen = days
    for allowance, stat, points in series:
        daily = [0.0] * days
        for moment, value in points:
            index = (day_floor(moment) - first) // DAY
            if 0 <= index < days:
                daily[index] = (
                    max(daily[index], value) if stat == "Maximum" else daily[index] + value
                )
                seen = min(seen, index)
        metrics.append((allowance, daily))
    skip = seen if seen < days else 0
    active = [False] * (days - skip)
    at_rest_level = False
    for allowance, daily in metrics:
        known = daily[skip:]
        floor = rest_floor(known)
        limit = allowance.limit(floor)
        at_rest_level = at_rest_level or floor > 0
        for index, value in enumerate(known):
            active[index] = active[index] or value > limit
    return History(first + skip * DAY, tuple(active), at_rest_level)


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
    if history.at_rest_level:
        what = f"{what} above its rest level"
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
            hums=history.at_rest_level,
        )
    if history.days < rules.min_history_days:
        return Verdict(
            provisional=True,
            reason=f"no {what} for {quiet} days, but only {history.days} days of history seen",
            since=since,
            hums=history.at_rest_level,
        )
    return Verdict(
        waste=True,
        reason=f"no {what} for {quiet} days (its history never had a quiet gap over {gap} days)",
        since=since,
        hums=history.at_rest_level,
    )
