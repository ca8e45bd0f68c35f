"""The caller's tenant's savings ledger: figures, entries, CSV export and the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from api.deps import DbSession, MaybeLogin, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES
from api.pages import render
from api.schemas.savings import SavingsSummary
from api.services.savings import savings_csv, savings_summary
from spendsense.store.models.base import utcnow

router = APIRouter(tags=["savings"], responses=ERROR_RESPONSES)


@router.get("/api/savings")
def savings(
    login: ViewerLogin,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> SavingsSummary:
    """Money saved by stops, schedules and deletions (from prices and durations, up to
    now): this month, in total, by month, by kind of action and by actor; and a page of
    ledger entries, newest first."""
    return savings_summary(db, login.tenant_id, limit=limit, before_id=before_id)


@router.get(
    "/api/savings.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the ledger as CSV"}},
)
def export_savings(login: ViewerLogin, state: StateDep) -> StreamingResponse:
    """Every ledger entry, newest first, as CSV: id, resource_kind, resource_id,
    account_id, action_kind, actor, started_at, ended_at, end_reason, hourly_price_usd,
    hours, saved_usd (hours and dollars up to now while an entry saves)."""
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        savings_csv(state.sessions, login.tenant_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="spendsense-savings-{stamp}.csv"'},
    )


@router.get("/savings", response_class=HTMLResponse, include_in_schema=False)
def savings_page(request: Request, login: MaybeLogin) -> Response:
    """The ledger's page (its script reads ``/api/savings``)."""
    if login is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "savings.html", email=login.email, page="savings")
