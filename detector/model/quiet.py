"""Quiet runs of one instance and the history that explains them.

A point is *quiet* when the instance does no useful work (:class:`QuietRule` is the clean floor;
:mod:`detector.model.level` learns each instance's own rest level). :class:`QuietHistory` follows
the current quiet run and keeps, for each of the last ``DAYS`` days, the longest quiet run that
ended that day. A long quiet run is only suspicious when it is longer than what the recent history
shows is normal for this instance (the gap between two nightly batches, the week between two
weekly jobs), or when the instance has never been active at all.

Short bursts inside a quiet run (a cron tick, a health check, an update scan) do not end it when
they are *tolerable* (the caller decides: moving little data) and last at most ``max_burst``
points; a longer burst, or one point that is not tolerable, ends the run as of the burst's start.

>>> h = QuietHistory()
>>> day = 86_400
>>> for t in range(0, 3 * day, 300):         # a nightly job: busy 01:00-02:00 each day
...     busy = 3_600 <= t % day < 7_200
...     h.observe(t, not busy)
>>> round(h.longest_recent() / 3_600, 1)   # the gap between two jobs, in hours
23.0
>>> h.run_seconds(3 * day - 300) / 3_600 > 20     # and it is in such a gap now
True
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_SECONDS = 86_400
DAYS = 14
"""How many days of quiet-run history explain a gap (Trusted Advisor looks at 14 days too)."""


@dataclass(frozen=True)
class QuietRule:
    """When a point counts as quiet.

    ``cpu_percent`` at or under ``cpu_floor`` and network in + out at or under
    ``network_floor`` bytes per second (``period`` seconds per point): a clean floor, where no
    working server sits. Either metric above its floor makes the point active; quiet needs
    both (a CPU-only poll of a busy instance shows work, never quiet).

    >>> rule = QuietRule()
    >>> rule.is_quiet(0.4, 3_000.0, 2_000.0)
    True
    >>> rule.is_quiet(0.4, 300_000.0, 0.0)       # low CPU but serving traffic
    False
    >>> rule.is_quiet(None, None, None) is None, rule.is_quiet(0.4, None, None) is None
    (True, True)
    """

    cpu_floor: float = 2.0
    network_floor: float = 200.0
    period: float = 300.0

    def is_quiet(
        self, cpu: float | None, network_in: float | None, network_out: float | None
    ) -> bool | None:
        """Whether a point with these metrics is quiet (``None``: nothing to judge)."""
        if cpu is not None and cpu > self.cpu_floor:
            return False
        if network_in is None and network_out is None:
            return None
        total = (network_in or 0.0) + (network_out or 0.0)
        if total / self.period > self.network_floor:
            return False
        return None if cpu is None else True


class QuietHistory:
    """The current quiet run and the longest quiet run per day over the last ``DAYS`` days.

    Times are integer UTC epoch seconds. ``observe`` must be called in time order.
    ``max_burst``: how many tolerable active points in a row a quiet run survives.
    """

    def __init__(self, max_burst: int = 1) -> None:
        self.max_burst = max_burst
        self.burst = 0
        """Active points in a row inside the current quiet run (0 if none)."""
        self.first_seen = 0
        self.last_seen = 0
        self.run_start = 0
        """Start of the current quiet run, 0 when the last judged point was active."""
        self.pending = 0
        """Time of the first active point of a burst inside the quiet run, 0 if none."""
        self.active_points = 0
        self.day = 0
        """The day number (epoch days) of ``day_max[day % DAYS]``, the newest slot."""
        self.day_max = [0] * DAYS
        """Longest quiet run (minutes) that ended on each of the last ``DAYS`` days."""
        self.accepted = 0
        """Longest quiet run (minutes) a person confirmed as normal (feedback)."""
        self.accepted_run = 0
        """Start of the quiet run a person confirmed as normal, while it lasts (feedback)."""

    def _advance(self, when: int) -> None:
        today = when // DAY_SECONDS
        if today <= self.day:
            return
        for d in range(max(self.day + 1, today - DAYS + 1), today + 1):
            self.day_max[d % DAYS] = 0
        self.day = today

    def observe(self, when: int, quiet: bool | None, tolerable: bool = True) -> None:
        """Take one point: ``quiet`` from a rule, ``None`` when unknown.

        Up to ``max_burst`` tolerable active points in a row inside a quiet run (a cron tick, a
        health check, an update scan) do not end the run; one more, or an active point that is
        not ``tolerable``, does, as of the burst's first point.
        """
        if not self.first_seen:
            self.first_seen = when
        self.last_seen = when
        self._advance(when)
        if quiet is None:
            return
        if quiet:
            if not self.run_start:
                self.run_start = when
            self.pending = 0
            self.burst = 0
            return
        if self.run_start and tolerable and self.burst < self.max_burst:
            self.pending = self.pending or when
            self.burst += 1
            return
        if self.run_start:
            self._close_run(self.pending or when)
            self.active_points += self.burst
        self.active_points += 1

    def _close_run(self, when: int) -> None:
        """End the current run at ``when``. A run that began with the history counts too: the
        gap it was part of lasted at least that long (a weekly job first seen mid-week)."""
        minutes = min((when - self.run_start) // 60, 0xFFFF)
        slot = self.day % DAYS
        self.day_max[slot] = max(self.day_max[slot], minutes)
        if self.accepted_run == self.run_start:
            self.accepted = max(self.accepted, minutes)
            self.accepted_run = 0
        self.run_start = 0
        self.pending = 0
        self.burst = 0

    def run_seconds(self, now: int) -> int:
        """How long the current quiet run has lasted at ``now`` (0 if not quiet)."""
        return now - self.run_start if self.run_start else 0

    def longest_recent(self) -> int:
        """Longest quiet run (seconds) that ended in the last ``DAYS`` days up to ``last_seen``.

        Slots of older days are cleared as time moves on, so the ring holds only those days.
        """
        return 60 * max(self.day_max)

    def history_seconds(self) -> int:
        """How much history has been seen."""
        return self.last_seen - self.first_seen if self.first_seen else 0

    def accept_current_run(self) -> None:
        """Feedback: the current quiet run is normal, and so are later runs as long as it."""
        self.accepted_run = self.run_start

    def current_run_accepted(self) -> bool:
        """Whether a person confirmed the current quiet run as normal."""
        return bool(self.run_start) and self.accepted_run == self.run_start
