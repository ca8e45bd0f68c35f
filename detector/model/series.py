"""A streaming anomaly detector for one metric series, on River's contract.

The detector asks whether a point shows the series doing something it has not done before.
It follows three signals and, for each, an *envelope*: the highest and lowest value seen so
far, each pulled back very slowly towards the series' long-run mean so that old extremes fade.

* the value itself (a spike or a drop beyond anything seen),
* a short moving average of the value (a burst or a level change that single points hide),
* how many long-run standard deviations that short average is from the long-run mean
  (a level shift, judged against the largest shift seen before),
* for how many points in a row that shift has stayed above ``persist_z`` deviations (a level
  shift smaller than an earlier spike, judged against the longest such stretch seen before).

The anomaly score grows with the largest excess beyond an envelope, measured in envelope
widths: ``score = excess / (excess + scale)``, so a point inside every envelope scores 0 and
``alert`` (0.5 by default) is reached when a signal passes its envelope by ``scale`` widths.
After an alert, scores are halved for ``cooldown`` points: one incident, one alert.

``score_one`` reads the state and ``learn_one`` updates it, so a score never depends on later
points. The whole state is ``STATE_FIELDS`` floats (``state()``), which keeps checkpoints small.

>>> det = SeriesDetector()
>>> scores = []
>>> for i in range(600):
...     x = {"value": 10.0 + (i % 3)}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores) < det.alert
True
>>> det.score_one({"value": 60.0}) > det.alert
True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable
from typing import Any

from river import base

STATE_FIELDS = 13
_SHIFT_BASELINE = 0.01
"""Fading factor of the running mean of the shift signal (what its envelope decays to)."""
_MIN_STRETCH = 5.0
"""A stretch of shifted points shorter than this is never novel (in points)."""


class SeriesDetector(base.AnomalyDetector):
    """Novelty of one numeric feature beyond its fading envelopes, scored in [0, 1].

    Parameters
    ----------
    feature
        The key of the value in the ``x`` dicts.
    fast
        Fading factor of the short moving average.
    slow
        Fading factor of the long-run mean and variance.
    decay
        Per-point pull of each envelope towards the long-run mean (0: extremes never fade).
    scale
        Excess, in envelope widths, that scores 0.5.
    warmup
        Points learnt before the first non-zero score.
    alert
        The score that counts as an alert (starts the cooldown); NAB's detection threshold.
    cooldown
        Points after an alert whose scores are halved.
    persist_z
        Shift (in long-run standard deviations) that counts towards a stretch.

    The defaults of ``fast``, ``slow``, ``cooldown``, ``warmup`` and ``alert`` are the grid's
    best mean NAB standard score over all six NAB categories (``make bench-nab``, which also
    reports each category with parameters chosen on the other five).
    """

    def __init__(
        self,
        feature: str = "value",
        fast: float = 0.2,
        slow: float = 0.002,
        decay: float = 2e-5,
        scale: float = 0.06,
        warmup: int = 300,
        alert: float = 0.5,
        cooldown: int = 100,
        persist_z: float = 3.0,
    ) -> None:
        self.feature = feature
        self.fast = fast
        self.slow = slow
        self.decay = decay
        self.scale = scale
        self.warmup = warmup
        self.alert = alert
        self.cooldown = cooldown
        self.persist_z = persist_z
        self._state = [0.0] * STATE_FIELDS
        self._last: tuple[float, float, float] | None = None
        """(points learnt, value, score) of the last ``score_one``, so ``learn_one`` reuses it."""

    # The state, by name (one list so that it packs and restores in one step).
    (_N, _MEAN, _VAR, _SHORT, _HI, _LO, _SHORT_HI, _SHORT_LO) = range(8)
    (_SHIFT_MEAN, _SHIFT_HI, _COOL, _STRETCH, _STRETCH_HI) = range(8, STATE_FIELDS)

    def for_feature(self, feature: str) -> SeriesDetector:
        """A fresh detector with these parameters reading ``feature`` (``clone`` without
        River's signature inspection, which dominates when models are restored per batch)."""
        fresh = copy.copy(self)
        fresh.feature = feature
        fresh._state = [0.0] * STATE_FIELDS
        fresh._last = None
        return fresh

    def state(self) -> tuple[float, ...]:
        """The learnt state as ``STATE_FIELDS`` floats (for compact checkpoints)."""
        return tuple(self._state)

    def load_state(self, values: tuple[float, ...]) -> None:
        """Restore what ``state()`` returned."""
        if len(values) != STATE_FIELDS:
            raise ValueError(f"a SeriesDetector state has {STATE_FIELDS} values")
        self._state = list(values)
        self._last = None

    def expected(self) -> tuple[float, float]:
        """The range of raw values the detector currently calls normal: ``(low, high)``.

        A value inside it scores 0 on the value signal; before anything is learnt it is
        ``(0.0, 0.0)``.

        >>> det = SeriesDetector(warmup=10)
        >>> for v in [4.0, 6.0, 5.0] * 10:
        ...     det.learn_one({"value": v})
        >>> [round(v, 2) for v in det.expected()], det.score_one({"value": 5.0})
        ([4.0, 6.0], 0.0)
        """
        return self._state[self._LO], self._state[self._HI]

    def _value(self, x: dict[Hashable, Any]) -> float | None:
        value = x.get(self.feature)
        if value is None or not math.isfinite(value):
            return None
        return float(value)

    def _signals(self, value: float) -> tuple[float, float]:
        """The short average and the shift (in long-run standard deviations) after ``value``."""
        s = self._state
        short = s[self._SHORT] + self.fast * (value - s[self._SHORT])
        floor = 1e-3 * (abs(s[self._MEAN]) + 1e-3)
        shift = abs(short - s[self._MEAN]) / math.sqrt(s[self._VAR] + floor * floor)
        return short, shift

    def _excess(self, value: float) -> float:
        s = self._state
        short, shift = self._signals(value)
        floor = 1e-3 * (abs(s[self._MEAN]) + 1e-3)
        excess = 0.0
        for signal, hi, lo in (
            (value, s[self._HI], s[self._LO]),
            (short, s[self._SHORT_HI], s[self._SHORT_LO]),
        ):
            width = max(hi - lo, floor)
            excess = max(excess, (signal - hi) / width, (lo - signal) / width)
        shift_width = max(s[self._SHIFT_HI] - s[self._SHIFT_MEAN], 1.0)
        excess = max(excess, (shift - s[self._SHIFT_HI]) / shift_width)
        stretch = s[self._STRETCH] + 1 if shift > self.persist_z else 0.0
        longest = max(s[self._STRETCH_HI], _MIN_STRETCH)
        return max(excess, (stretch - longest) / longest)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Anomaly score of ``x`` in [0, 1]; 0 during warm-up or for a missing value."""
        value = self._value(x)
        if value is None or self._state[self._N] < self.warmup:
            return 0.0
        n = self._state[self._N]
        if self._last is not None and self._last[0] == n and self._last[1] == value:
            return self._last[2]
        excess = self._excess(value)
        score = excess / (excess + self.scale) if excess > 0 else 0.0
        score = score / 2 if self._state[self._COOL] > 0 else score
        self._last = (n, value, score)
        return score

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Update the averages, the envelopes and the cooldown with ``x``."""
        value = self._value(x)
        if value is None:
            return
        s = self._state
        if s[self._N] == 0:
            s[self._MEAN] = s[self._SHORT] = value
            s[self._HI] = s[self._LO] = s[self._SHORT_HI] = s[self._SHORT_LO] = value
            s[self._N] = 1.0
            return
        if s[self._COOL] > 0:
            s[self._COOL] -= 1
        elif self.score_one(x) >= self.alert:
            s[self._COOL] = float(self.cooldown)
        short, shift = self._signals(value)
        s[self._SHORT] = short
        delta = value - s[self._MEAN]
        s[self._MEAN] += self.slow * delta
        s[self._VAR] = (1 - self.slow) * (s[self._VAR] + self.slow * delta * delta)
        mean, pull = s[self._MEAN], self.decay
        s[self._HI] = max(value, s[self._HI] - pull * (s[self._HI] - mean))
        s[self._LO] = min(value, s[self._LO] + pull * (mean - s[self._LO]))
        s[self._SHORT_HI] = max(short, s[self._SHORT_HI] - pull * (s[self._SHORT_HI] - mean))
        s[self._SHORT_LO] = min(short, s[self._SHORT_LO] + pull * (mean - s[self._SHORT_LO]))
        if s[self._N] >= self.warmup // 2:
            s[self._SHIFT_MEAN] += _SHIFT_BASELINE * (shift - s[self._SHIFT_MEAN])
            shift_hi = s[self._SHIFT_HI] - pull * (s[self._SHIFT_HI] - s[self._SHIFT_MEAN])
            s[self._SHIFT_HI] = max(shift, shift_hi)
            s[self._STRETCH] = s[self._STRETCH] + 1 if shift > self.persist_z else 0.0
            s[self._STRETCH_HI] = max(s[self._STRETCH], s[self._STRETCH_HI] * (1 - pull))
        s[self._N] += 1

    def accept_level(self, level: float) -> None:
        """Feedback: ``level`` is normal for this series from now on (a person called a surge
        to it expected). Every envelope widens to take it in, so the same level again scores
        nothing on the value, average and shift signals.

        >>> det = SeriesDetector(warmup=10)
        >>> for v in [4.0, 6.0, 5.0] * 10:
        ...     det.learn_one({"value": v})
        >>> det.score_one({"value": 60.0}) > 0.0
        True
        >>> det.accept_level(60.0)
        >>> det.expected()[1], det.score_one({"value": 60.0})
        (60.0, 0.0)
        """
        s = self._state
        if s[self._N] == 0:
            return
        _, shift = self._signals(level)
        s[self._HI] = max(s[self._HI], level)
        s[self._SHORT_HI] = max(s[self._SHORT_HI], level)
        s[self._SHIFT_HI] = max(s[self._SHIFT_HI], shift)
        s[self._STRETCH_HI] = max(s[self._STRETCH_HI], s[self._STRETCH])
        self._last = None
