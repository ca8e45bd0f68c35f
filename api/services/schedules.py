"""The tenant's off-hours schedules: list, create or replace, remove; an instance's choice
of schedule; each scheduled instance's next action. Scoped by tenant throughout."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.schedules.targets import next_actions, scheduled_instances
from api.errors import ApiError
from api.schemas.schedules import ScheduleBody, ScheduleChoice, ScheduledInstance, ScheduleView
from spendsense.errors import NotFound
from spendsense.store.models import InstanceView
from spendsense.store.models.schedules import Schedule, ScheduleAssignment


def _view(row: Schedule, followers: int) -> ScheduleView:
    return ScheduleView(
        name=row.name,
        time_zone=row.time_zone,
        periods=row.periods,
        dry_run=row.dry_run,
        enabled=row.enabled,
        instances=followers,
        updated_at=row.updated_at,
    )


def list_schedules(db: Session, tenant_id: str) -> list[ScheduleView]:
    """The tenant's schedules by name, each with how many instances follow it."""
    followers = Counter(s.schedule.name for s in scheduled_instances(db, tenant_id))
    rows = db.scalars(
        select(Schedule).where(Schedule.tenant_id == tenant_id).order_by(Schedule.name)
    )
    return [_view(row, followers[row.name]) for row in rows]


def save_schedule(db: Session, tenant_id: str, body: ScheduleBody) -> tuple[ScheduleView, bool]:
    """Create the schedule, or replace the one of that name; returns it and whether it is
    new. The scheduler applies the new definition from its next tick."""
    row = db.get(Schedule, (tenant_id, body.name))
    created = row is None
    if row is None:
        row = Schedule(tenant_id=tenant_id, name=body.name)
        db.add(row)
    row.time_zone = body.time_zone
    row.periods = [p.model_dump() for p in body.periods]
    row.dry_run = body.dry_run
    row.enabled = body.enabled
    db.commit()
    followers = sum(1 for s in scheduled_instances(db, tenant_id) if s.schedule.name == row.name)
    return _view(row, followers), created


def delete_schedule(db: Session, tenant_id: str, name: str) -> None:
    """Remove a schedule and the UI's choices of it (instances tagged with it are left alone
    by the scheduler from then on)."""
    row = db.get(Schedule, (tenant_id, name))
    if row is None:
        raise NotFound(f"there is no schedule named {name!r}")
    db.delete(row)
    db.commit()


def choose_schedule(
    db: Session, tenant_id: str, instance_id: str, choice: ScheduleChoice, by: str
) -> ScheduleChoice:
    """Put an instance of the tenant's inventory on a schedule, or remove the UI's choice."""
    view = db.get(InstanceView, (tenant_id, instance_id))
    if view is None:
        raise NotFound(f"instance {instance_id} was not found")
    current = db.get(ScheduleAssignment, (tenant_id, instance_id))
    if choice.schedule is None:
        if current is not None:
            db.delete(current)
            db.commit()
        return choice
    if db.get(Schedule, (tenant_id, choice.schedule)) is None:
        raise ApiError(422, "invalid_request", f"there is no schedule named {choice.schedule!r}")
    if current is None:
        current = ScheduleAssignment(tenant_id=tenant_id, instance_id=instance_id)
        db.add(current)
    current.schedule_name = choice.schedule
    current.account_id = view.account_id
    current.region = view.region
    current.assigned_by = by
    db.commit()
    return choice


def upcoming(db: Session, tenant_id: str, now: datetime) -> list[ScheduledInstance]:
    """Each scheduled instance's next action, soonest first."""
    plan = [ScheduledInstance(**asdict(a)) for a in next_actions(db, tenant_id, now)]
    return sorted(plan, key=lambda a: (a.at is None, a.at or now, a.instance_id))
