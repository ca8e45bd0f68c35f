"""The audit log: who did what to which instance, when, why, with what result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditItem(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    account_id: str | None
    instance_id: str | None
    reason: str
    result: str
    dry_run: bool
    details: dict[str, Any]


class AuditPage(BaseModel):
    """Newest first; pass ``before_id`` = the last id to get the next page."""

    items: list[AuditItem]
    next_before_id: int | None
