"""A streaming anomaly detector for one metric series, on River's contract.

The detector keeps an exponentially weighted mean and variance of the series and measures how
surprising each value is (its distance from the mean in standard deviations). A single odd point
is common in cloud metrics, so the score is the *likelihood* of the recent surprise: a short
average of surprises compared with the long-run distribution of surprises, mapped through the
normal CDF into [0, 1]. Once the score reaches ``alert``, later scores are damped for
``cooldown`` points so one incident raises one alert, not a burst.

Everything is computed from the past: ``score_one`` reads the state, ``learn_one`` updates it,
so a score never depends on later points. The state is seven floats (``state()``), which is what
makes per-instance checkpoints small.

>>> det = SeriesDetector(warmup=20)
>>> scores = []
>>> for i in range(300):
...     x = {"value": 10.0 + (i % 3)}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[100:]) < 0.9
True
>>> spike = det.score_one({"value": 60.0})
>>> spike > 0.99
True
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from river import base

STATE_FIELDS = 7


def normal_cdf(z: float) -> float:
    """The standard normal CDF.

    >>> round(normal_cdf(0.0), 3)
    0.5
    >>> normal_cdf(5.0) > 0.9999
    True
    """
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class SeriesDetector(base.AnomalyDetector):
    """Anomaly likelihood of one numeric feature, scored in [0, 1].

    Parameters
    ----------
    feature
        The key of the value in the ``x`` dicts.
    slow
        Fading factor of the level (mean, variance) of the series.
    fast
        Fading factor of the short average of surprises.
    baseline
        Fading factor of the long-run distribution of surprises.
    warmup
        Points learnt before the first non-zero score.
    alert
        The score at which an alert is considered raised (starts the cooldown).
    cooldown
        Points after an alert whose scores are damped.
    damping
        Factor applied to scores during the cooldown.
    """

    def __init__(
        self,
        feature: str = "value",
        slow: float = 0.01,
        fast: float = 0.3,
        baseline: float = 0.002,
        warmup: int = 100,
        alert: float = 0.995,
        cooldown: int = 200,
        damping: float = 0.5,
    ) -> None:
        self.feature = feature
        self.slow = slow
        self.fast = fast
        self.baseline = baseline
        self.warmup = warmup
        self.alert = alert
        self.cooldown = cooldown
        self.damping = damping
        self._n = 0.0
        self._mean = 0.0
        self._var = 0.0
        self._short = 0.0
        self._raw_mean = 0.0
        self._raw_var = 0.0
        self._cooling = 0.0

    def state(self) -> tuple[float, ...]:
        """The learnt state as ``STATE_FIELDS`` floats (for compact checkpoints)."""
        return (
            self._n,
            self._mean,
            self._var,
            self._short,
            self._raw_mean,
            self._raw_var,
            self._cooling,
        )

    def load_state(self, values: tuple[float, ...]) -> None:
        """Restore what ``state()`` returned."""
        (
            self._n,
            self._mean,
            self._var,
            self._short,
            self._raw_mean,
            self._raw_var,
            self._cooling,
        ) = values

    def _surprise(self, value: float) -> float:
        scale = 1e-3 * (abs(self._mean) + 1e-3)
        return abs(value - self._mean) / math.sqrt(self._var + scale * scale)

    def _likelihood(self, value: float) -> tuple[float, float]:
        """The raw likelihood of ``value`` and the short surprise average it would give."""
        short = self._short + self.fast * (self._surprise(value) - self._short)
        spread = math.sqrt(self._raw_var + 1e-4)
        return normal_cdf((short - self._raw_mean) / spread), short

    def _value(self, x: dict[Hashable, Any]) -> float | None:
        value = x.get(self.feature)
        if value is None or not math.isfinite(value):
            return None
        return float(value)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Anomaly score of ``x`` in [0, 1]; 0 during warm-up or for a missing value."""
        value = self._value(x)
        if value is None or self._n < self.warmup:
            return 0.0
        score, _ = self._likelihood(value)
        return score * self.damping if self._cooling > 0 else score

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Update the level, the surprise statistics and the cooldown with ``x``."""
        value = self._value(x)
        if value is None:
            return
        if self._n >= 2:
            score, short = self._likelihood(value)
            if self._cooling > 0:
                self._cooling -= 1
            elif score >= self.alert and self._n >= self.warmup:
                self._cooling = float(self.cooldown)
            surprise = self._surprise(value)
            delta = surprise - self._raw_mean
            self._raw_mean += self.baseline * delta
            self._raw_var = (1 - self.baseline) * (self._raw_var + self.baseline * delta * delta)
            self._short = short
        if self._n == 0:
            self._mean = value
        else:
            delta = value - self._mean
            self._mean += self.slow * delta
            self._var = (1 - self.slow) * (self._var + self.slow * delta * delta)
        self._n += 1
