"""Costs of the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentLogin, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas.costs import CostSummary
from api.services.costs import cost_summary, cost_version

router = APIRouter(tags=["costs"], responses=ERROR_RESPONSES)


@router.get("/api/costs", response_model=CostSummary)
async def costs(login: CurrentLogin, state: StateDep) -> Response:
    """The last 7 days by day, month to date, and this month by service.

    The summary is computed again only when the collectors cached a new answer; whether
    they did is read from the store at most every 2 seconds per tenant (the figures
    cache), so a kept answer is sent from the event loop without a store read.
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

    body: bytes | None = state.figures.peek(tenant_id, "costs")
    if body is None:
        body = await run_in_threadpool(state.figures.get, tenant_id, "costs", render)
    return Response(body, media_type="application/json")
