"""Idle verdicts on hand-made instances: rest levels, patterns explained by history, enough
history before an alertable verdict, ceilings, feedback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from detector.scoring import Ceilings, InstanceModel, Point, Verdict

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=5)
HOUR = 12
DAY = 288

Shape = Callable[[int], tuple[float, float]]
"""Point index -> (cpu percent, network bytes in + out per 5 minutes)."""


def _feed(model: InstanceModel, shape: Shape, start: int, stop: int) -> list[Verdict]:
    verdicts = []
    for i in range(start, stop):
        cpu, net = shape(i)
        model.learn_one(Point(T0 + STEP * i, cpu, net / 2, net / 2))
        verdicts.append(model.verdict())
    return verdicts


def _wobble(i: int) -> float:
    """Deterministic noise in [0, 1)."""
    return (i * 0.618034) % 1.0


def _nightly(i: int) -> tuple[float, float]:
    """Busy 02:00-04:00 every day, at a clean floor otherwise."""
    return (70.0, 5e7) if 24 <= i % DAY < 48 else (0.4, 3e3)


def _busy(i: int) -> tuple[float, float]:
    """A web service: 20-60 % CPU, megabytes every five minutes."""
    return 20.0 + 40.0 * _wobble(i), 6e7 * (0.5 + _wobble(i))


def _agents(i: int) -> tuple[float, float]:
    """An idle JVM with a monitoring agent: a GC sawtooth at 2-5 % CPU, about 1.5 KB/s, and an
    update scan of 15 minutes at 30 % CPU every 4 hours that moves little data."""
    if 20 <= i % (4 * HOUR) < 23:
        return 30.0, 6e5
    return 2.0 + 3.0 * (i % 9) / 9 + 0.3 * _wobble(i), 4.5e5 * (0.8 + 0.4 * _wobble(i))


def _internal(i: int) -> tuple[float, float]:
    """A low-traffic internal service: on weekdays 08:00-19:00 a burst of requests every 40
    minutes (CPU 12 %, 200 KB/s), its agents' rest level otherwise."""
    weekday = (i // DAY) % 7 < 5
    office = 8 * HOUR <= i % DAY < 19 * HOUR
    if weekday and office and i % 8 < 2:
        return 12.0, 6e7
    return _agents(i)


def test_a_nightly_batch_gap_is_not_idle_but_a_missed_batch_is() -> None:
    model = InstanceModel()
    history = _feed(model, _nightly, 0, 14 * DAY + 48)
    assert not any(v.idle for v in history), "gaps between runs are the pattern"
    after = _feed(model, lambda i: (0.4, 3e3), 14 * DAY + 48, 16 * DAY)
    first = next(n for n, v in enumerate(after) if v.idle)
    hours_quiet = (first + 1) * 5 / 60
    assert 22 * 1.2 < hours_quiet < 22 * 1.2 + 1.5
    assert "its rests never passed 22.0 hours" in after[first].reason
    assert after[first].idle_since == T0 + STEP * (14 * DAY + 48)


def test_a_nightly_job_seen_for_one_day_is_provisional_not_idle() -> None:
    model = InstanceModel()
    verdicts = _feed(model, _nightly, 0, DAY + 20)
    assert not any(v.idle for v in verdicts), "one day cannot tell a nightly job from idleness"
    assert verdicts[-1].status == "provisional"
    assert verdicts[-1].confidence < 0.5
    assert "provisional" in verdicts[-1].reason
    # the job runs again: the gap was the pattern, and from now on it explains itself
    assert _feed(model, _nightly, DAY + 20, DAY + 48)[-1].status == "active"


def test_no_alertable_verdict_before_a_week_of_history() -> None:
    """A machine that never works is provisional for its first 7 days, then idle; a weekly job
    seen for six days looks the same, so the week is what it takes."""
    model = InstanceModel()
    verdicts = _feed(model, _agents, 0, 8 * DAY)
    first_idle = next(n for n, v in enumerate(verdicts) if v.idle)
    assert first_idle == 7 * DAY, "idle once the rest itself has lasted a week"
    assert all(v.status == "provisional" for v in verdicts[4 * HOUR : 7 * DAY])
    weekly = InstanceModel()
    job = _feed(weekly, lambda i: (80.0, 9e7) if 6 <= i < 30 else (0.5, 3e3), 0, 7 * DAY - 1)
    assert not any(v.idle for v in job)


def test_an_agent_idle_instance_abandoned_after_14_busy_days_is_found() -> None:
    model = InstanceModel()
    assert not any(v.idle for v in _feed(model, _busy, 0, 14 * DAY))
    after = _feed(model, _agents, 14 * DAY, 15 * DAY)
    first = next(n for n, v in enumerate(after) if v.idle)
    assert first * 5 / 60 <= 12, "found within 12 hours"
    verdict = after[first]
    assert verdict.idle_since == T0 + STEP * 14 * DAY
    assert verdict.confidence >= 0.5
    assert verdict.rest_cpu_percent is not None and 4.0 < verdict.rest_cpu_percent <= 10.0
    assert "its usual rest level" in verdict.reason
    assert "busy hours averaged" in verdict.reason
    assert all(v.idle for v in after[first:]), "update scans do not end the rest"


def test_a_low_traffic_internal_service_is_never_idle() -> None:
    model = InstanceModel()
    verdicts = _feed(model, _internal, 0, 28 * DAY)
    assert not any(v.idle for v in verdicts[: 28 * DAY])
    # weekends at its agents' level are explained once two have been seen
    assert not any(v.status == "provisional" for v in verdicts[15 * DAY :])


def test_a_steady_low_cpu_proxy_that_carries_traffic_is_never_idle() -> None:
    model = InstanceModel()
    verdicts = _feed(model, lambda i: (1.5 + _wobble(i), 3e7), 0, 9 * DAY)
    assert all(v.status == "active" for v in verdicts)
    assert verdicts[-1].reason.startswith("active")


def test_an_abandoned_service_at_a_clean_floor_is_flagged_within_the_hour() -> None:
    model = InstanceModel()
    _feed(model, _busy, 0, 8 * DAY)
    after = _feed(model, lambda i: (0.5, 4e3), 8 * DAY, 8 * DAY + 24)
    first = next(n for n, v in enumerate(after) if v.idle)
    assert first * 5 <= 60
    assert after[first].idle_since == T0 + STEP * 8 * DAY
    assert "a clean floor" in after[first].reason


def test_a_tenants_ceilings_change_the_verdict() -> None:
    """Agents at 5-8 % CPU rest under the default 10 % ceiling; a tenant that sets 4 % says
    such a machine still works."""

    def warm(i: int) -> tuple[float, float]:
        return 5.0 + 3.0 * _wobble(i), 3e5

    default = InstanceModel()
    strict = InstanceModel()
    strict.set_ceilings(Ceilings(cpu_percent=4.0, network_bps=10_000.0))
    _feed(default, _busy, 0, 8 * DAY)
    _feed(strict, _busy, 0, 8 * DAY)
    assert _feed(default, warm, 8 * DAY, 9 * DAY)[-1].idle
    assert _feed(strict, warm, 8 * DAY, 9 * DAY)[-1].status == "active"
    # a network ceiling below what the agents send keeps it active too
    tight = InstanceModel(ceilings=Ceilings(cpu_percent=10.0, network_bps=500.0))
    _feed(tight, _busy, 0, 8 * DAY)
    assert _feed(tight, _agents, 8 * DAY, 9 * DAY)[-1].status == "active"


def test_cron_spikes_do_not_break_a_clean_run() -> None:
    def spiky(i: int) -> tuple[float, float]:
        return (6.0, 9e4) if i % 3 == 2 else (0.3, 3e3)

    model = InstanceModel()
    _feed(model, _busy, 0, 8 * DAY)
    verdicts = _feed(model, spiky, 8 * DAY, 8 * DAY + 24)
    assert verdicts[-1].idle


def test_feedback_silences_this_quiet_run_and_runs_as_long_later() -> None:
    model = InstanceModel()
    _feed(model, _busy, 0, 8 * DAY)
    quiet = _feed(model, lambda i: (0.4, 3e3), 8 * DAY, 8 * DAY + 36)
    assert quiet[-1].idle
    model.mark_not_idle()
    assert not model.verdict().idle
    assert not any(v.idle for v in _feed(model, lambda i: (0.4, 3e3), 8 * DAY + 36, 9 * DAY))
    # busy for 15 days (the 14-day history forgets that run), then as long a quiet run:
    # only the feedback explains it now
    _feed(model, _busy, 9 * DAY, 24 * DAY)
    again = _feed(model, lambda i: (0.4, 3e3), 24 * DAY, 25 * DAY - 1)
    assert not any(v.idle for v in again)
    fresh = InstanceModel()
    _feed(fresh, _busy, 0, 24 * DAY)
    assert any(v.idle for v in _feed(fresh, lambda i: (0.4, 3e3), 24 * DAY, 25 * DAY - 1))
    restored = InstanceModel.from_bytes(model.to_bytes())
    assert restored.verdict() == model.verdict()
