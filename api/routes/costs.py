"""Costs of the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentLogin, DbSession, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas.costs import CostSummary
from api.services.costs import cost_summary, cost_version

router = APIRouter(tags=["costs"], responses=ERROR_RESPONSES)


@router.get("/api/costs")
def costs(login: CurrentLogin, db: DbSession, state: StateDep) -> CostSummary:
    """The last 7 days by day, month to date, and this month by service.

    The summary is computed again only when the collectors cached a new answer.
    """
    version = cost_version(db, login.tenant_id)
    return state.costs.get(
        login.tenant_id, f"costs:{version}", lambda: cost_summary(db, login.tenant_id)
    )
