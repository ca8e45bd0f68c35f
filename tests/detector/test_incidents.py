"""Usage anomaly incidents from the instance model: one open and one closed transition per
incident, none per point, none from a half-seen history, state across a restart, and a
person's "expected" that silences the same surge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detector.model.incidents import Transition
from detector.protocol import PointIn, SeriesItem
from detector.scoring import InstanceModel, Point
from detector.warm import WarmModels

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = 288
SURGE = 9e8
"""Bytes out per 5 minutes in a surge (3 MB/s), against about 5 MB normally."""


def point(i: int, out: float | None = None) -> Point:
    """A steady web server's point ``i`` (deterministic wobble), or with ``out`` bytes sent."""
    return Point(
        T0 + timedelta(minutes=5 * i),
        20.0 + i % 5,
        4e6 + (i % 7) * 1e5,
        5e6 + (i % 11) * 1e5 if out is None else out,
    )


def surge_at(start: int, length: int, total: int) -> list[Point]:
    return [point(i, SURGE if start <= i < start + length else None) for i in range(total)]


def run(model: InstanceModel, points: list[Point]) -> list[tuple[int, Transition]]:
    """Learn ``points``; each transition with the index of the point that made it."""
    out = []
    for i, p in enumerate(points):
        model.learn_one(p)
        out += [(i, t) for t in model.transitions]
    return out


def test_a_surge_gives_one_open_and_one_closed_transition() -> None:
    start = 8 * DAY
    moves = run(InstanceModel(), surge_at(start, 24, start + 48))
    assert [(i, t.status, t.metric) for i, t in moves] == [
        (start + 1, "open", "network_out_bytes"),  # confirmed by its second point
        (start + 24 + 2, "closed", "network_out_bytes"),  # after three calm points
    ]
    opened, closed = (t for _, t in moves)
    since = int((T0 + timedelta(minutes=5 * start)).timestamp())
    assert opened.since == closed.since == since
    assert opened.observed == SURGE and closed.observed == SURGE
    assert opened.expected_low < 5.1e6 < opened.expected_high < 7e6
    assert (closed.expected_low, closed.expected_high) == (
        opened.expected_low,
        opened.expected_high,
    )
    assert closed.ended_at == since + 24 * 300
    assert 0.5 <= opened.score <= 1.0


def test_no_incident_from_a_half_seen_history_or_before_the_live_edge() -> None:
    early = run(InstanceModel(), surge_at(5 * DAY, 24, 5 * DAY + 48))  # five days seen
    assert early == []
    model = InstanceModel()
    model.alerts_from = int((T0 + timedelta(days=9)).timestamp())  # a backfill up to day 9
    assert run(model, surge_at(8 * DAY, 24, 8 * DAY + 48)) == []


def test_an_open_incident_survives_a_restart_from_the_state_bytes() -> None:
    start = 8 * DAY
    points = surge_at(start, 24, start + 48)
    whole = run(InstanceModel(), points)
    first = InstanceModel()
    before = run(first, points[: start + 10])
    assert [t.status for _, t in before] == ["open"]
    restored = InstanceModel().restore(first.to_bytes())
    after = [(i + start + 10, t) for i, t in run(restored, points[start + 10 :])]
    assert before + after == whole
    assert restored.to_bytes() == run_state(points)


def run_state(points: list[Point]) -> bytes:
    model = InstanceModel()
    run(model, points)
    return model.to_bytes()


def test_expected_feedback_makes_a_surge_like_it_no_incident() -> None:
    """A first surge of two hours; a second at the same level lasting 4.5 hours is new by its
    duration, unless a person called the first one expected."""
    start = 8 * DAY
    first = surge_at(start, 24, start + 48)
    again = [
        point(i, SURGE if start <= i < start + 24 or start + 96 <= i < start + 150 else None)
        for i in range(start + 180)
    ]
    control = InstanceModel()
    assert [t.status for _, t in run(control, again)] == ["open", "closed", "open", "closed"]

    model = InstanceModel()
    assert [t.status for _, t in run(model, first)] == ["open", "closed"]
    assert model.expect("network_out_bytes") is None  # closed already: nothing to close
    assert run(model, again[len(first) :]) == []


def test_expected_on_an_open_incident_closes_it_through_the_service() -> None:
    start = 8 * DAY
    pts = [
        PointIn(
            timestamp=p.timestamp,
            cpu_percent=p.cpu_percent,
            network_in_bytes=p.network_in_bytes,
            network_out_bytes=p.network_out_bytes,
        )
        for p in surge_at(start, 48, start + 60)
    ]
    warm = WarmModels(size=0)
    a, _ = warm.score(SeriesItem(key="i-1", points=pts[: start + 10]))
    assert [i.status for v in a.verdicts for i in v.incidents] == ["open"]
    b, _ = warm.score(
        SeriesItem(
            key="i-1", state=a.state, expected=["network_out_bytes"], points=pts[start + 10 :]
        )
    )
    assert [(i.status, i.metric) for i in b.verdicts[0].incidents] == [
        ("closed", "network_out_bytes")
    ]
    assert [i.status for v in b.verdicts[1:] for i in v.incidents] == []  # expected now
