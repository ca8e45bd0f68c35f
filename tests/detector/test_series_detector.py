"""SeriesDetector on River's contract: no look-ahead, state round trip, determinism, range."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from detector.model.series import STATE_FIELDS, SeriesDetector


def _values(n: int, jump_at: int | None = None) -> list[float]:
    """A daily-ish cycle with deterministic pseudo-noise; a level jump from ``jump_at`` on."""
    values = []
    for i in range(n):
        noise = math.sin(i * 12.9898) * 43758.5453 % 1.0
        level = 30.0 if jump_at is not None and i >= jump_at else 0.0
        values.append(20 + 8 * math.sin(2 * math.pi * i / 288) + 3 * noise + level)
    return values


def _stream(detector: SeriesDetector, values: list[float]) -> list[float]:
    scores = []
    for value in values:
        x: dict[Hashable, Any] = {"value": value}
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


def test_a_score_never_depends_on_later_points() -> None:
    calm = _values(1500)
    changed = calm[:1000] + [v * 5 + 100 for v in calm[1000:]]
    first, second = _stream(SeriesDetector(), calm), _stream(SeriesDetector(), changed)
    assert first[:1000] == second[:1000], "changing points 1000+ may only change their scores"
    assert max(second[1000:]) >= SeriesDetector().alert, "the change itself is an anomaly"


def test_the_state_round_trips_and_the_restored_detector_scores_the_same() -> None:
    values = _values(1500, jump_at=1200)
    whole = _stream(SeriesDetector(), values)
    before = SeriesDetector()
    _stream(before, values[:700])
    state = before.state()
    assert len(state) == STATE_FIELDS
    restored = SeriesDetector()
    restored.load_state(state)
    assert restored.expected() == before.expected()
    assert _stream(restored, values[700:]) == whole[700:]


def test_runs_are_deterministic() -> None:
    values = _values(1200, jump_at=900)
    assert _stream(SeriesDetector(), values) == _stream(SeriesDetector(), values)


def test_the_expected_range_holds_the_normal_values_and_not_the_jump() -> None:
    values = _values(1200, jump_at=1000)
    detector = SeriesDetector()
    scores = _stream(detector, values[:1000])
    low, high = detector.expected()
    last_day = values[1000 - 288 : 1000]
    span = max(last_day) - min(last_day)
    # the envelopes fade slowly towards the mean, so they may sit just inside old extremes
    assert min(last_day) - low > -0.01 * span and high - max(last_day) > -0.01 * span
    assert values[1000] > high
    assert max(scores) < detector.alert, "the normal cycle raises no alert"
    assert detector.score_one({"value": values[1000]}) >= detector.alert


def test_a_missing_value_scores_zero_and_teaches_nothing() -> None:
    detector = SeriesDetector()
    _stream(detector, _values(400))
    state = detector.state()
    assert detector.score_one({"value": float("nan")}) == 0.0
    detector.learn_one({"value": None})
    assert detector.state() == state
