"""Ceilings of rest: what a tenant may set in Settings, SpendSense's defaults and their meaning.

The idle model learns each instance's own rest level (the CPU and network its agents use when
nobody works on it), but never above two absolute ceilings: a point above either is never at
rest. A tenant may set its own (``None`` keeps the default); the API checks the range, the
``tenant-settings`` topic carries them to the detector workers, and the model service applies
them to each instance's model (:class:`detector.model.points.Ceilings` holds the same defaults).

>>> CPU_PERCENT.check(5)
5.0
>>> CPU_PERCENT.check(None) is None
True
>>> NETWORK_BPS.check(50)
Traceback (most recent call last):
...
ValueError: must be from 100 B/s to 100 MB/s (100 to 100,000,000 bytes per second, in + out), or null for the default 10,000 (10 KB/s)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Ceiling:
    """One ceiling a tenant may set: its default, the range allowed, and words for people."""

    default: float
    low: float
    high: float
    range_words: str  # the allowed range, as the error message and the Settings page say it
    default_words: str  # the default, with its unit

    def check(self, value: float | None) -> float | None:
        """``value`` as a float when in range (``None``, the default, passes); otherwise a
        ``ValueError`` saying what to enter."""
        if value is None:
            return None
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ValueError(
                f"must be from {self.range_words}, or null for the default {self.default_words}"
            )
        return float(value)


CPU_PERCENT = Ceiling(
    default=10.0,  # Trusted Advisor's low-utilisation check: daily CPU at most 10 %
    low=0.5,
    high=100.0,
    range_words="0.5 to 100 (% CPU)",
    default_words="10 (%)",
)
NETWORK_BPS = Ceiling(
    default=10_000.0,  # twice the few KB/s an idle machine's agents send at most
    low=100.0,
    high=100_000_000.0,
    range_words="100 B/s to 100 MB/s (100 to 100,000,000 bytes per second, in + out)",
    default_words="10,000 (10 KB/s)",
)
