"""Wasted resources beyond instances: the overview by kind, a kind's list, one resource, and
what an action on one did."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.instances import InstanceSummary

Verdict = Literal["waste", "provisional", "ok", "gone"]


class KindSummary(BaseModel):
    """One kind: how many resources are wasted and what they cost a month."""

    kind: str
    label: str
    count: int = Field(description="resources found wasted")
    provisional: int = Field(description="resources that look wasted, not yet sure")
    monthly_waste_usd: float


class WasteOverview(BaseModel):
    """Every kind's figures, beside the idle instances'."""

    kinds: list[KindSummary]
    count: int
    monthly_waste_usd: float
    instances: InstanceSummary


class WasteAction(BaseModel):
    """An action the page offers on a resource."""

    action: str
    confirm: bool = Field(description="a person must type the id (name, IP) first")
    policy: bool = Field(description="a policy may run it (off unless enabled)")
    note: str = ""


class WasteResource(BaseModel):
    """One resource, its verdict and what can be done to it."""

    kind: str
    resource_id: str
    account_id: str
    region: str
    name: str
    state: str
    verdict: Verdict
    reason: str
    monthly_price_usd: float | None
    monthly_waste_usd: float
    since: datetime | None
    protected: bool
    last_action: str | None
    last_action_at: datetime | None
    actions: list[WasteAction]


class WasteDetail(WasteResource):
    """One resource with its tags, kind-specific facts and audit."""

    tags: dict[str, str]
    details: dict[str, Any]
    observed_at: datetime | None
    audit: list[dict[str, Any]]


class WastePage(BaseModel):
    """A page of one kind's resources, costliest first."""

    kind: str
    label: str
    items: list[WasteResource]
    total: int
    offset: int
    limit: int


class WasteListQuery(BaseModel):
    """Which page, and whether resources that are fine or gone are listed too."""

    model_config = ConfigDict(extra="forbid")

    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=200)
    all: bool = Field(False, description="also list resources found fine or gone")


class WasteActionRequest(BaseModel):
    """An action on a resource: ``confirm`` is what the person typed (an irreversible
    action needs its id, name or public IP); ``decision_key`` makes a retry safe
    (by default one per resource and action: a repeat returns the first result)."""

    model_config = ConfigDict(extra="forbid")

    confirm: str | None = Field(None, max_length=300)
    decision_key: str | None = Field(None, min_length=8, max_length=120)


class WasteActionResult(BaseModel):
    """What an action on a resource did."""

    kind: str
    resource_id: str
    action: str
    result: str
    message: str
    previous: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
