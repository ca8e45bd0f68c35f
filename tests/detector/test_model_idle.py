"""Idle verdicts on hand-made instances: patterns explained by history, floors, feedback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from detector.scoring import InstanceModel, Point, Verdict

T0 = datetime(2026, 11, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
DAY = 288

Shape = Callable[[int], tuple[float, float]]
"""Point index -> (cpu percent, network bytes per 5 minutes)."""


def _feed(model: InstanceModel, shape: Shape, start: int, stop: int) -> list[Verdict]:
    verdicts = []
    for i in range(start, stop):
        cpu, net = shape(i)
        model.learn_one(Point(T0 + STEP * i, cpu, net / 2, net / 2))
        verdicts.append(model.verdict())
    return verdicts


def _nightly(i: int) -> tuple[float, float]:
    """Busy 02:00-04:00 every day, at the floor otherwise."""
    return (70.0, 5e7) if 24 <= i % DAY < 48 else (0.4, 3e3)


def test_a_nightly_batch_gap_is_not_idle_but_a_missed_batch_is() -> None:
    model = InstanceModel()
    history = _feed(model, _nightly, 0, 14 * DAY + 48)
    assert not any(v.idle for v in history[2 * DAY :]), "gaps between runs are the pattern"
    # the batch stops: the instance stays at the floor
    after = _feed(model, lambda i: (0.4, 3e3), 14 * DAY + 48, 16 * DAY)
    first = next(n for n, v in enumerate(after) if v.idle)
    hours_quiet = (first + 1) * 5 / 60
    assert 22 * 1.2 < hours_quiet < 22 * 1.2 + 1.5
    assert "longest quiet gap in 14 days of history was 22.0 hours" in after[first].reason
    assert after[first].idle_since == T0 + STEP * (14 * DAY + 48)


def test_a_steady_low_cpu_service_that_serves_traffic_is_never_idle() -> None:
    model = InstanceModel()
    verdicts = _feed(model, lambda i: (0.3, 2e6), 0, 3 * DAY)
    assert not any(v.idle for v in verdicts)
    assert verdicts[-1].reason.startswith("active")


def test_an_abandoned_service_is_flagged_within_the_hour() -> None:
    model = InstanceModel()
    _feed(model, lambda i: (35.0 + i % 7, 4e6), 0, 2 * DAY)
    after = _feed(model, lambda i: (0.5, 4e3), 2 * DAY, 2 * DAY + 24)
    first = next(n for n, v in enumerate(after) if v.idle)
    assert first * 5 <= 60
    assert after[first].idle_since == T0 + STEP * 2 * DAY
    assert 0.5 <= after[first].confidence <= 1.0


def test_cron_spikes_do_not_break_an_idle_run() -> None:
    def spiky(i: int) -> tuple[float, float]:
        return (6.0, 9e4) if i % 3 == 2 else (0.3, 3e3)

    verdicts = _feed(InstanceModel(), spiky, 0, 24)
    assert verdicts[-1].idle
    assert "never active" in verdicts[-1].reason


def test_feedback_silences_this_quiet_run_and_runs_as_long_later() -> None:
    model = InstanceModel()
    _feed(model, lambda i: (30.0, 4e6), 0, DAY)
    quiet = _feed(model, lambda i: (0.4, 3e3), DAY, DAY + 36)
    assert quiet[-1].idle
    model.mark_not_idle()
    assert not model.verdict().idle
    assert not any(v.idle for v in _feed(model, lambda i: (0.4, 3e3), DAY + 36, 2 * DAY))
    # busy for 15 days (the 14-day history forgets that run), then as long a quiet run:
    # only the feedback explains it now
    _feed(model, lambda i: (30.0, 4e6), 2 * DAY, 17 * DAY)
    again = _feed(model, lambda i: (0.4, 3e3), 17 * DAY, 18 * DAY - 1)
    assert not any(v.idle for v in again)
    fresh = InstanceModel()
    _feed(fresh, lambda i: (30.0, 4e6), 0, 17 * DAY)
    assert any(v.idle for v in _feed(fresh, lambda i: (0.4, 3e3), 17 * DAY, 18 * DAY - 1))
    restored = InstanceModel.from_bytes(model.to_bytes())
    assert restored.verdict() == model.verdict()
