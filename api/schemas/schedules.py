"""Off-hours schedules as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from actions.schedules.periods import PeriodError, WeeklySchedule

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SCHEDULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A schedule's name: what the tag ``spendsense:schedule=<name>`` carries."""


class WeeklyPeriod(BaseModel):
    """One weekly period in local time: ``end`` may be ``24:00`` or before ``start``
    (the period runs past midnight)."""

    days: list[Day] = Field(min_length=1, examples=[["mon", "tue", "wed", "thu", "fri"]])
    start: str = Field(examples=["08:00"])
    end: str = Field(examples=["19:00"])


class ScheduleBody(BaseModel):
    """A schedule: its name, IANA time zone, weekly periods (overlaps count as their
    union), dry-run (audit what it would do, change nothing) and whether it runs."""

    name: str = Field(pattern=SCHEDULE_NAME, examples=["office-hours"])
    time_zone: str = Field(examples=["Europe/Berlin"])
    periods: list[WeeklyPeriod] = Field(min_length=1, max_length=50)
    dry_run: bool = True
    """On until turned off, as auto-stop: anyone who can tag in the account opts instances
    in by tag, so a new schedule first shows what it would do."""
    enabled: bool = True

    @model_validator(mode="after")
    def _valid_definition(self) -> ScheduleBody:
        try:
            WeeklySchedule.of(self.time_zone, [p.model_dump() for p in self.periods])
        except PeriodError as exc:
            raise ValueError(str(exc)) from None
        return self


class ScheduleView(ScheduleBody):
    """A schedule with how many instances follow it (chosen in the UI or by tag)."""

    instances: int
    updated_at: datetime


class ScheduleChoice(BaseModel):
    """The schedule chosen for an instance in the UI; null removes the choice (a tag
    ``spendsense:schedule`` on the instance applies again)."""

    schedule: str | None = Field(default=None, pattern=SCHEDULE_NAME)


class ScheduledInstance(BaseModel):
    """What the scheduler will do next to one instance.

    ``action`` (``start`` or ``stop``) at ``at``; both null when the schedule never changes
    its mind. ``override_until``: a person started it by hand in the off period, and it is
    left running until then (the next period's start).
    """

    instance_id: str
    schedule: str
    source: Literal["ui", "tag"]
    dry_run: bool
    in_period: bool
    action: Literal["start", "stop"] | None
    at: datetime | None
    override_until: datetime | None
    last_result: str | None
    problem: str | None
