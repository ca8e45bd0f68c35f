"""EC2 instances as the dashboard lists them, and what a person can do to one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["idle", "provisional", "active"]


class Instance(BaseModel):
    """One instance: what it is, the detector's verdict, what it costs doing nothing."""

    instance_id: str
    account_id: str
    region: str
    name: str
    state: str
    instance_type: str
    status: Status = Field(
        description="idle (alertable), provisional (looks idle: too little history or a "
        "past period; never alerts) or active"
    )
    confidence: float | None = Field(
        description="0..1, the verdict's confidence; null before the first verdict"
    )
    idle: bool = Field(description="status is idle")
    idle_since: datetime | None
    reason: str
    monthly_waste_usd: float
    last_alert_at: datetime | None
    last_action: str | None
    last_action_at: datetime | None
    stoppable: bool
    not_stoppable_reason: str | None
    scored_at: datetime | None


class InstanceSummary(BaseModel):
    """Counts over all the tenant's instances."""

    total: int
    running: int
    idle: int
    monthly_waste_usd: float


class InstancePage(BaseModel):
    """A page of instances (idle and wasteful first) and the tenant-wide summary."""

    items: list[Instance]
    total: int
    limit: int
    offset: int
    summary: InstanceSummary


class ActionResult(BaseModel):
    """What happened when a person asked to stop, start or mark an instance."""

    instance_id: str
    action: str
    result: str
    state: str
    message: str
    audit_id: int | None = None
