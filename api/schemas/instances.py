"""EC2 instances as the dashboard lists them, and what a person can do to one or many."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

Status = Literal["idle", "provisional", "active"]
SortKey = Literal["waste", "idle_since", "name", "type", "state"]
Order = Literal["desc", "asc"]
Ec2State = Literal[
    "pending", "running", "shutting-down", "terminated", "stopping", "stopped", "unknown"
]
BulkVerb = Literal["stop", "not-idle"]

# No control characters (PostgreSQL refuses NUL in text; none belongs in a search).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")]
TagFilter = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=_PRINTABLE)]
InstanceIdText = Annotated[str, StringConstraints(min_length=3, max_length=32)]


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


class InstanceFilters(BaseModel):
    """Which of the tenant's instances a list (or its CSV) shows, and in what order.

    A repeated parameter is OR (``state=running&state=stopped``); different parameters
    are AND.
    """

    sort: SortKey = Field(
        "waste",
        description="waste: idle running instances first, by monthly waste (then other idle "
        "ones, then running, then the rest); idle_since (never idle last in both orders); "
        "name; type (instance type); state. Ties are broken by instance id.",
    )
    order: Order | None = Field(
        None, description="desc or asc; by default desc for waste, asc for the others"
    )
    q: str | None = Field(
        None,
        max_length=100,
        pattern=_PRINTABLE,
        description="free text: case-insensitive substring of the name, the instance id, "
        "or a tag's key or value",
    )
    account: list[AccountId] = Field(
        default_factory=list, max_length=100, description="AWS account id (repeatable)"
    )
    region: list[Region] = Field(
        default_factory=list, max_length=50, description="AWS region (repeatable)"
    )
    state: list[Ec2State] = Field(
        default_factory=list, max_length=7, description="EC2 state (repeatable)"
    )
    verdict: list[Status] = Field(
        default_factory=list,
        max_length=3,
        description="the detector's verdict: idle, provisional or active (repeatable)",
    )
    tag: list[TagFilter] = Field(
        default_factory=list,
        max_length=20,
        description="KEY (the instance has the tag) or KEY=VALUE (exact value); repeatable",
    )
    idle: bool | None = Field(
        None, description="older form of verdict: true is verdict=idle, false any other"
    )

    @property
    def direction(self) -> Order:
        """The order asked for, or the sort's default.

        >>> InstanceFilters().direction, InstanceFilters(sort="name").direction
        ('desc', 'asc')
        """
        if self.order is not None:
            return self.order
        return "desc" if self.sort == "waste" else "asc"


class InstanceListQuery(InstanceFilters):
    """The filters of a list, and which page of it."""

    limit: int = Field(50, ge=1, le=500, description="rows per page")
    cursor: str | None = Field(
        None,
        max_length=2000,
        description="next_cursor of the previous page (opaque; only valid for the same "
        "sort and order)",
    )


class InstancePage(BaseModel):
    """A page of instances in the asked order, how many match, and the tenant-wide summary."""

    items: list[Instance]
    total: int = Field(description="instances matching the filters and search")
    summary: InstanceSummary
    limit: int
    next_cursor: str | None = Field(description="the next page's cursor; null on the last page")
    sort: SortKey
    order: Order


class ActionResult(BaseModel):
    """What happened when a person asked to stop, start or mark an instance."""

    instance_id: str
    action: str
    result: str
    state: str
    message: str
    audit_id: int | None = None


class BulkRequest(BaseModel):
    """One action on several instances, each through the same rails as one alone."""

    action: BulkVerb
    instance_ids: list[InstanceIdText] = Field(min_length=1, max_length=100)

    @field_validator("instance_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("list each instance once")
        return ids


class BulkRowResult(BaseModel):
    """One instance's outcome in a bulk action: ``ok`` when the action was carried out;
    otherwise ``message`` says why not (a rail's refusal, not yours, AWS said no)."""

    instance_id: str
    ok: bool
    message: str
    action: str
    result: str = Field(
        description="stopped, recorded, refused, skipped, not_found or failed (as one alone)"
    )
    state: str | None = None
    audit_id: int | None = None


class BulkResult(BaseModel):
    """Every instance's outcome, in the order asked, and how many were carried out."""

    action: BulkVerb
    results: list[BulkRowResult]
    done: int = Field(description="rows carried out (ok)")
    stopped: int = Field(description="rows stopped (0 for not-idle)")
