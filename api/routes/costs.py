"""Costs of the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentLogin, DbSession
from api.errors import ERROR_RESPONSES
from api.schemas.costs import CostSummary
from api.services.costs import cost_summary

router = APIRouter(tags=["costs"], responses=ERROR_RESPONSES)


@router.get("/api/costs")
def costs(login: CurrentLogin, db: DbSession) -> CostSummary:
    """The last 7 days by day, month to date, and this month by service."""
    return cost_summary(db, login.tenant_id)
