"""EC2 instances as the dashboard lists them, and what a person can do to one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Instance(BaseModel):
    """One instance: what it is, whether it is idle, what it costs doing nothing."""

    instance_id: str
    account_id: str
    region: str
    name: str
    state: str
    instance_type: str
    idle_score: float | None = Field(description="0 busy .. 1 idle; null before the first score")
    idle: bool
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
