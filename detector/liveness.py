"""The live edge: which periods may turn an idle verdict into an alert.

A verdict made on a period far behind the present (the 14-day backfill of a just-connected
account, a worker catching up after an outage) describes the past: it is shown as provisional
and never emails or stops. Only a period that ended within ``edge_s`` of now is at the live
edge. The default edge (:attr:`spendsense.settings.DetectorSettings.live_edge_s`, 7 hours)
covers the slowest polling tier (6 hours) plus the settle time, so a live period is never
mistaken for a backfilled one.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
>>> at_live_edge(now - timedelta(minutes=20), 300, now, 25_200)
True
>>> at_live_edge(now - timedelta(days=3), 300, now, 25_200)
False
"""

from __future__ import annotations

from datetime import datetime, timedelta


def at_live_edge(period_start: datetime, period_s: float, now: datetime, edge_s: float) -> bool:
    """Whether the period that began at ``period_start`` ended at most ``edge_s`` before ``now``."""
    return now - (period_start + timedelta(seconds=period_s)) <= timedelta(seconds=edge_s)


def settle(idle: bool, provisional: bool, live: bool) -> tuple[bool, bool]:
    """The (idle, provisional) pair a verdict becomes at or behind the live edge.

    >>> settle(True, False, live=True), settle(True, False, live=False)
    ((True, False), (False, True))
    >>> settle(False, True, live=True), settle(False, False, live=False)
    ((False, True), (False, False))
    """
    if idle and not live:
        return False, True
    return idle, provisional
