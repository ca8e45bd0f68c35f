"""What the model reads (:class:`Point`) and what it says about an instance (:class:`Verdict`)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Point:
    """One 5-minute metrics point of an instance; a missing metric is ``None``.

    Network values are bytes over the period, as CloudWatch's ``NetworkIn``/``NetworkOut``
    ``Sum`` statistic gives them. ``timestamp`` is timezone-aware UTC.
    """

    timestamp: datetime
    cpu_percent: float | None
    network_in_bytes: float | None
    network_out_bytes: float | None

    def features(self) -> dict[Hashable, Any]:
        """The point as River's feature dict."""
        return {
            "cpu_percent": self.cpu_percent,
            "network_in_bytes": self.network_in_bytes,
            "network_out_bytes": self.network_out_bytes,
        }


@dataclass(frozen=True)
class Ceilings:
    """Absolute ceilings of rest: above either, a point is never at rest, whatever its history.

    ``cpu_percent`` defaults to Trusted Advisor's 10 % (a tenant may only lower it or raise it
    in Settings); ``network_bps`` is network in + out in bytes per second: 10 KB/s, twice what
    an idle machine's agents send at most (a few KB/s) and below what a server carrying real
    traffic moves.
    """

    cpu_percent: float = 10.0
    network_bps: float = 10_000.0


@dataclass(frozen=True)
class Verdict:
    """What the model says after a point.

    ``score``: anomaly score of that point in [0, 1] (novelty, not idleness). ``idle``: the
    instance has sat at its rest level for longer than its history explains, with enough
    history to say so (an alertable verdict); ``provisional``: it looks idle but the history
    seen is too short to tell it from a periodic job (never alert on it); ``idle_since``: start
    of the current rest run (set whenever the instance rests, idle or not yet);
    ``confidence`` in [0, 1] of the verdict; ``reason``: one sentence with numbers a person can
    check against the instance's graphs; ``rest_cpu_percent`` / ``rest_network_bps``: the
    learned rest level's upper limits (a point under both is at rest), ``None`` before any.
    """

    score: float
    idle: bool
    idle_since: datetime | None
    confidence: float
    reason: str
    provisional: bool = False
    rest_cpu_percent: float | None = None
    rest_network_bps: float | None = None

    @property
    def status(self) -> str:
        """``idle``, ``provisional`` or ``active``: what the dashboard shows."""
        return "idle" if self.idle else "provisional" if self.provisional else "active"
