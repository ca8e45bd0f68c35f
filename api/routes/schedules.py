"""Off-hours schedules: admins define them, operators put instances on them, everyone in
the organisation sees what each scheduled instance will have done to it next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AdminLogin, DbSession, OperatorLogin, ViewerLogin
from api.errors import ERROR_RESPONSES
from api.schemas.common import Ok
from api.schemas.schedules import ScheduleBody, ScheduleChoice, ScheduledInstance, ScheduleView
from api.services import schedules as svc

router = APIRouter(tags=["schedules"], responses=ERROR_RESPONSES)


@router.get("/api/schedules")
def list_schedules(login: ViewerLogin, db: DbSession) -> list[ScheduleView]:
    """The organisation's schedules, each with how many instances follow it."""
    return svc.list_schedules(db, login.tenant_id)


@router.put("/api/schedules")
def save_schedule(
    body: ScheduleBody, login: AdminLogin, db: DbSession, response: Response
) -> ScheduleView:
    """Create the schedule named in the body (201), or replace it (200); the scheduler
    applies it from its next tick (within a minute)."""
    view, created = svc.save_schedule(db, login.tenant_id, body)
    response.status_code = 201 if created else 200
    return view


@router.delete("/api/schedules")
def delete_schedule(
    name: Annotated[str, Query(description="the schedule's name")], login: AdminLogin, db: DbSession
) -> Ok:
    """Remove a schedule; instances on it are no longer stopped or started by it."""
    svc.delete_schedule(db, login.tenant_id, name)
    return Ok(message=f"schedule {name!r} removed")


@router.get("/api/schedules/next")
def next_actions(login: ViewerLogin, db: DbSession) -> list[ScheduledInstance]:
    """Each scheduled instance's next action (soonest first), and a manual start in an off
    period, respected until the next period begins."""
    return svc.upcoming(db, login.tenant_id, datetime.now(UTC))


@router.put("/api/instances/{instance_id}/schedule")
def choose_schedule(
    instance_id: Annotated[str, Path(description="the instance's id")],
    body: ScheduleChoice,
    login: OperatorLogin,
    db: DbSession,
) -> ScheduleChoice:
    """Put the instance on a schedule (this choice wins over its ``spendsense:schedule``
    tag), or remove the choice with ``{"schedule": null}``."""
    return svc.choose_schedule(db, login.tenant_id, instance_id, body, login.email)
