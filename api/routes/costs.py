"""Costs of the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.cache import kept
from api.deps import StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES
from api.schemas.costs import CostSummary
from api.services.costs import cost_summary, cost_version

router = APIRouter(tags=["costs"], responses=ERROR_RESPONSES)


@router.get("/api/costs", response_model=CostSummary)
async def costs(login: ViewerLogin, state: StateDep) -> Response:
    """The last 7 days by day, month to date, and this month by service.

    Answered on the event loop from what this process keeps. A collector of this host
    that stores a new Cost Explorer answer moves a shared count on, which is part of the
    key: the next request reads it. Besides, after 2 seconds one background read checks
    which answers are cached (one index read; collectors on other hosts), and the summary
    is computed and serialised again only when they changed.
    """
    tenant_id = login.tenant_id

    def render() -> bytes:
        with state.sessions() as db:
            version = cost_version(db, tenant_id)
            # pydantic builds and checks the summary; it is serialised once per version
            return state.costs.get(
                tenant_id,
                f"costs:{version}",
                lambda: cost_summary(db, tenant_id).model_dump_json().encode(),
            )

    key = f"costs:{state.cost_changes.current()}"
    body = await kept(state.figures, tenant_id, key, render, state.store_reads.run)
    return Response(body, media_type="application/json")
