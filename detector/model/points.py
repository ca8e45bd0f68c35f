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
class Verdict:
    """What the model says after a point.

    ``score``: anomaly score of that point in [0, 1]. ``idle``: whether the instance is judged
    idle; ``idle_since``: start of the current quiet run (set whenever the instance is quiet,
    idle or not yet); ``confidence`` in [0, 1] of the ``idle`` call; ``reason``: one sentence a
    person can check against the instance's graphs.
    """

    score: float
    idle: bool
    idle_since: datetime | None
    confidence: float
    reason: str
