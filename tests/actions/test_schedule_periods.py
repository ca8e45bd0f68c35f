"""Weekly periods in a time zone: DST both ways, overlaps, bad definitions, an edit mid-period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actions.schedules.periods import (
    PeriodError,
    Transition,
    WeeklySchedule,
    in_period,
    intervals,
    last_transition,
    next_transition,
)

NY = "America/New_York"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stretches(schedule: WeeklySchedule, day: datetime) -> list[tuple[datetime, datetime]]:
    """The merged intervals that start on the UTC day of ``day``."""
    return [(s, e) for s, e in intervals(schedule, day) if s.date() == day.date()]


def test_a_period_inside_the_spring_forward_gap_is_shifted_by_the_gap() -> None:
    # 2027-03-14: New York skips 02:00-03:00 (EST -5 becomes EDT -4)
    night = WeeklySchedule.of(NY, [{"days": ["sun"], "start": "01:30", "end": "03:00"}])
    assert stretches(night, utc(2027, 3, 14)) == [(utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7))]
    # 02:30 does not exist that day: it is read as 03:30 EDT
    gap = WeeklySchedule.of(NY, [{"days": ["sun"], "start": "02:30", "end": "05:00"}])
    assert stretches(gap, utc(2027, 3, 14)) == [(utc(2027, 3, 14, 7, 30), utc(2027, 3, 14, 9))]
    # the week before, the same periods last their full length
    assert stretches(night, utc(2027, 3, 7)) == [(utc(2027, 3, 7, 6, 30), utc(2027, 3, 7, 8))]


def test_a_repeated_local_time_is_its_first_occurrence_when_clocks_fall_back() -> None:
    # 2026-11-01: New York repeats 01:00-02:00 (EDT -4 becomes EST -5)
    night = WeeklySchedule.of(NY, [{"days": ["sun"], "start": "01:30", "end": "03:00"}])
    start, end = stretches(night, utc(2026, 11, 1))[0]
    assert (start, end) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8))
    assert end - start == timedelta(hours=2, minutes=30)
    assert in_period(night, utc(2026, 11, 1, 6, 45))  # 01:45 EST, the second 01:45


def test_office_hours_follow_local_time_across_both_changes() -> None:
    office = WeeklySchedule.of(NY, [{"days": WEEKDAYS, "start": "08:00", "end": "19:00"}])
    # Friday before spring forward: 08:00 EST is 13:00 UTC; the Monday after: 12:00 UTC
    assert next_transition(office, utc(2027, 3, 13, 1)) == Transition(utc(2027, 3, 15, 12), "start")
    assert last_transition(office, utc(2027, 3, 15, 1)) == Transition(utc(2027, 3, 13), "stop")
    # Friday before fall back: 19:00 EDT is 23:00 UTC; the Monday after starts at 13:00 UTC
    assert next_transition(office, utc(2026, 10, 30, 22)) == Transition(
        utc(2026, 10, 30, 23), "stop"
    )
    assert next_transition(office, utc(2026, 10, 31)) == Transition(utc(2026, 11, 2, 13), "start")


def test_overlapping_and_touching_periods_are_their_union() -> None:
    overlapping = WeeklySchedule.of(
        "Europe/Berlin",
        [
            {"days": ["mon"], "start": "08:00", "end": "12:00"},
            {"days": ["mon"], "start": "10:00", "end": "19:00"},
            {"days": ["mon"], "start": "19:00", "end": "20:00"},  # touches the end
        ],
    )
    monday = utc(2026, 12, 7)
    assert stretches(overlapping, monday) == [(utc(2026, 12, 7, 7), utc(2026, 12, 7, 19))]
    assert next_transition(overlapping, utc(2026, 12, 7, 9)) == Transition(
        utc(2026, 12, 7, 19), "stop"
    )


def test_periods_past_midnight_and_the_whole_week() -> None:
    nights = WeeklySchedule.of("UTC", [{"days": ["sat"], "start": "22:00", "end": "02:00"}])
    assert in_period(nights, utc(2026, 12, 13, 1))  # Sunday 01:00
    assert not in_period(nights, utc(2026, 12, 13, 2))  # the end is excluded
    always = WeeklySchedule.of(
        "UTC",
        [
            {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "24:00",
            }
        ],
    )
    assert in_period(always, utc(2026, 12, 9, 3))
    assert next_transition(always, utc(2026, 12, 9, 3)) is None
    never = WeeklySchedule.of("UTC", [])
    assert (in_period(never, utc(2026, 12, 9)), next_transition(never, utc(2026, 12, 9))) == (
        False,
        None,
    )


def test_a_schedule_edited_mid_period_takes_its_new_shape_at_once() -> None:
    before = WeeklySchedule.of("UTC", [{"days": WEEKDAYS, "start": "08:00", "end": "19:00"}])
    after = WeeklySchedule.of("UTC", [{"days": WEEKDAYS, "start": "08:00", "end": "12:00"}])
    one_pm = utc(2026, 12, 9, 13)
    assert in_period(before, one_pm) and not in_period(after, one_pm)
    # the new stretch (off) began at 12:00, so the scheduler's next tick stops the instance
    assert last_transition(after, one_pm) == Transition(utc(2026, 12, 9, 12), "stop")
    earlier = WeeklySchedule.of("UTC", [{"days": WEEKDAYS, "start": "07:00", "end": "19:00"}])
    # still inside, the stretch now began at 07:00: a start taken at 08:00 stands
    assert last_transition(earlier, utc(2026, 12, 9, 9)) == Transition(utc(2026, 12, 9, 7), "start")


@pytest.mark.parametrize(
    ("zone", "period", "message"),
    [
        ("Europe/Nowhere", {"days": ["mon"], "start": "08:00", "end": "19:00"}, "IANA time zone"),
        ("UTC", {"days": [], "start": "08:00", "end": "19:00"}, "non-empty list"),
        ("UTC", {"days": ["mon"], "start": "8am", "end": "19:00"}, "start must be a time as HH:MM"),
        ("UTC", {"days": ["mon"], "start": "08:00", "end": "25:00"}, "end must be a time"),
        ("UTC", {"days": ["mon"], "start": "08:00", "end": "08:00"}, "must differ"),
    ],
)
def test_bad_definitions_say_what_to_fix(
    zone: str, period: dict[str, object], message: str
) -> None:
    with pytest.raises(PeriodError, match=message):
        WeeklySchedule.of(zone, [period])
