"""The model's contract: no look-ahead, exact checkpoint round trip, determinism, small state."""

from __future__ import annotations

import math
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detector.model.series import SeriesDetector
from detector.scoring import InstanceModel, Point, score_and_learn

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _series(n: int, seed: int = 3) -> list[Point]:
    """A busy service with a daily cycle, a spike, then silence (deterministic pseudo-noise)."""
    points = []
    for i in range(n):
        wobble = math.sin(i * 12.9898 + seed) * 43758.5453 % 1.0
        cpu = 20 + 15 * math.sin(2 * math.pi * i / 288) + 5 * wobble
        if i == n // 3:
            cpu = 95.0
        net = 2e6 * (1 + wobble)
        if i > 2 * n // 3:
            cpu, net = 0.3 + 0.2 * wobble, 1e3
        points.append(Point(T0 + timedelta(minutes=5 * i), cpu, net, net / 2))
    return points


def _run(model: InstanceModel, points: list[Point]) -> list[float]:
    scores = []
    for p in points:
        scores.append(model.score_one(p))
        model.learn_one(p)
    return scores


def test_scores_of_a_prefix_do_not_change_when_more_points_follow() -> None:
    points = _series(900)
    full = _run(InstanceModel(), points)
    prefix = _run(InstanceModel(), points[:400])
    assert prefix == full[:400]
    assert max(full) >= SeriesDetector().alert, "the spike must raise an alert"


def test_checkpoint_round_trip_gives_identical_scores_and_verdicts() -> None:
    points = _series(900)
    straight = InstanceModel()
    expected = _run(straight, points)
    first = InstanceModel()
    got = _run(first, points[:500])
    restored = InstanceModel.from_bytes(first.to_bytes())
    assert restored.verdict() == first.verdict()
    got += _run(restored, points[500:])
    assert got == expected
    assert restored.verdict() == straight.verdict()
    assert restored.to_bytes() == straight.to_bytes()


def test_batches_through_score_and_learn_equal_one_stream() -> None:
    points = _series(600)
    whole, state_whole = score_and_learn(None, points)
    part1, state = score_and_learn(None, points[:250])
    part2, state = score_and_learn(state, points[250:])
    assert part1 + part2 == whole
    assert state == state_whole


def test_same_parameters_same_scores_and_clone_starts_fresh() -> None:
    points = _series(700)
    model = InstanceModel(gap_factor=1.5)
    first = _run(model, points)
    clone = model.clone()
    assert clone.gap_factor == 1.5
    assert _run(clone, points) == first
    assert _run(InstanceModel(gap_factor=1.5), points) == first


def test_scores_stay_in_unit_interval_and_learn_one_returns_none() -> None:
    model = InstanceModel()
    for p in [*_series(800), Point(T0 + timedelta(days=5), None, None, None)]:
        s = model.score_one(p)
        assert 0.0 <= s <= 1.0
        assert model.learn_one(p) is None  # type: ignore[func-returns-value]


def test_state_stays_under_two_kilobytes_after_two_weeks() -> None:
    model = InstanceModel()
    _run(model, _series(14 * 288))
    assert len(model.to_bytes()) <= 2048


def test_corrupt_state_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not an InstanceModel state"):
        InstanceModel.from_bytes(b"\x01garbage")


def test_series_detector_is_a_river_anomaly_detector_with_the_same_contract() -> None:
    values: list[dict[Hashable, Any]] = [
        {"value": 10 + (i % 7) + (50.0 if i == 600 else 0.0)} for i in range(800)
    ]
    det = SeriesDetector()
    scores = []
    for x in values:
        scores.append(det.score_one(x))
        det.learn_one(x)
    again = SeriesDetector()
    restored_from = SeriesDetector()
    for x in values[:300]:
        again.score_one(x)
        again.learn_one(x)
        restored_from.learn_one(x)
    copy = SeriesDetector()
    copy.load_state(restored_from.state())
    tail = []
    for x in values[300:]:
        tail.append(copy.score_one(x))
        copy.learn_one(x)
    assert tail == scores[300:]
    assert scores[600] == max(scores)


def test_redelivered_and_late_points_change_nothing() -> None:
    points = _series(600)
    once = InstanceModel()
    _run(once, points)
    twice = InstanceModel()
    _run(twice, points[:400])
    _run(twice, points[300:])  # an at-least-once consumer replays from an older offset
    assert twice.to_bytes() == once.to_bytes()
    assert twice.verdict() == once.verdict()
