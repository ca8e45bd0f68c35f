"""Which instances follow which schedule, and what each will have done to it next.

An instance follows the schedule chosen for it in the UI (:class:`ScheduleAssignment`), or
else the one its inventory tag ``spendsense:schedule=<name>`` names; only enabled schedules
count, and a tag naming no schedule of the tenant is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.schedules.periods import (
    PeriodError,
    WeeklySchedule,
    in_period,
    next_transition,
)
from spendsense.store.models import InstanceView
from spendsense.store.models.schedules import Schedule, ScheduleAssignment, ScheduleState

SCHEDULE_TAG = "spendsense:schedule"
GONE = ("terminated", "shutting-down")


@dataclass(frozen=True)
class Scheduled:
    """One instance on one schedule; ``source``: ``ui`` (an assignment) or ``tag``."""

    tenant_id: str
    instance_id: str
    account_id: str | None
    region: str | None
    schedule: Schedule
    source: str

    @property
    def definition(self) -> WeeklySchedule:
        """The schedule's periods (PeriodError if the stored definition is unusable)."""
        return WeeklySchedule.of(self.schedule.time_zone, self.schedule.periods)


def scheduled_instances(session: Session, tenant_id: str | None = None) -> list[Scheduled]:
    """Every instance on an enabled schedule (of ``tenant_id``, or of every tenant)."""
    query = select(Schedule).where(Schedule.enabled.is_(True))
    views = select(InstanceView).where(InstanceView.state.not_in(GONE))
    chosen = select(ScheduleAssignment)
    if tenant_id is not None:
        query = query.where(Schedule.tenant_id == tenant_id)
        views = views.where(InstanceView.tenant_id == tenant_id)
        chosen = chosen.where(ScheduleAssignment.tenant_id == tenant_id)
    schedules = {(s.tenant_id, s.name): s for s in session.scalars(query)}
    out: dict[tuple[str, str], Scheduled] = {}
    for view in session.scalars(views):
        name = (view.tags or {}).get(SCHEDULE_TAG)
        found = schedules.get((view.tenant_id, name or ""))
        if found is not None:
            key = (view.tenant_id, view.instance_id)
            out[key] = Scheduled(*key, view.account_id, view.region, found, "tag")
    for pick in session.scalars(chosen):
        key = (pick.tenant_id, pick.instance_id)
        found = schedules.get((pick.tenant_id, pick.schedule_name))
        if found is None:
            out.pop(key, None)  # the UI chose a disabled schedule: that wins over a tag too
            continue
        out[key] = Scheduled(*key, pick.account_id, pick.region, found, "ui")
    return sorted(out.values(), key=lambda s: (s.tenant_id, s.instance_id))


@dataclass(frozen=True)
class NextAction:
    """What the scheduler will do next to one instance, for the dashboard.

    ``action`` at ``at`` (None: the schedule never changes its mind); ``override_until``:
    a person's manual start in the off period is respected until then.
    """

    instance_id: str
    schedule: str
    source: str
    dry_run: bool
    in_period: bool
    action: str | None
    at: datetime | None
    override_until: datetime | None
    last_result: str | None
    problem: str | None = None


def next_actions(session: Session, tenant_id: str, now: datetime) -> list[NextAction]:
    """The next action of each of the tenant's scheduled instances."""
    states = {
        s.instance_id: s
        for s in session.scalars(select(ScheduleState).where(ScheduleState.tenant_id == tenant_id))
    }
    out = []
    for item in scheduled_instances(session, tenant_id):
        state = states.get(item.instance_id)
        override = state.override_until if state is not None else None
        problem = None
        inside, upcoming = False, None
        try:
            definition = item.definition
            inside, upcoming = in_period(definition, now), next_transition(definition, now)
        except PeriodError as exc:
            problem = str(exc)
        out.append(
            NextAction(
                instance_id=item.instance_id,
                schedule=item.schedule.name,
                source=item.source,
                dry_run=item.schedule.dry_run,
                in_period=inside,
                action=upcoming.action if upcoming else None,
                at=upcoming.at if upcoming else None,
                override_until=override if override is not None and override > now else None,
                last_result=state.result if state is not None else None,
                problem=problem,
            )
        )
    return out
