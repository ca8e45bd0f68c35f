"""The caller's tenant's EC2 instances; stop, start and "not idle" on one of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from api.cache import kept
from api.deps import DbSession, OperatorLogin, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas.anomalies import Anomaly
from api.schemas.instance_detail import InstanceDetail
from api.schemas.instances import (
    ActionResult,
    BulkRequest,
    BulkResult,
    Instance,
    InstanceFilters,
    InstanceListQuery,
    InstancePage,
)
from api.services import instances as svc
from api.services.anomalies import list_anomalies
from api.services.bulk_actions import run_bulk
from api.services.instance_csv import csv_chunks
from api.services.instance_cursor import InvalidCursor
from api.services.instance_detail import read_detail
from api.services.instance_query import View
from spendsense.store.models.base import utcnow

router = APIRouter(tags=["instances"], responses=ERROR_RESPONSES)

InstanceId = Annotated[str, Path(min_length=3, max_length=32, description="an EC2 instance id")]


@router.get("/api/instances", response_model=InstancePage)
async def list_instances(
    login: ViewerLogin, app_state: StateDep, query: Annotated[InstanceListQuery, Query()]
) -> Response:
    """A page of instances in the asked sort (idle and most wasteful first by default),
    filtered and searched, with how many match and tenant-wide counts. The next page
    starts at ``next_cursor`` (keyset: rows arriving or changing meanwhile are neither
    skipped nor repeated); a cursor made for another sort or order is refused (422).

    A page is kept per tenant and query (many dashboards of one tenant ask the same)
    and answered on the event loop. It is read again in the background after 2 seconds
    (alert times change without a projection change), and at once, by every API
    process, when someone acts or the projector commits a change: both move the shared
    projection count on, which is part of the key.
    """
    tenant_id = login.tenant_id
    view = View(app_state.engine.dialect.name, tenant_id, query)
    try:
        after = view.cursor_key(query.cursor) if query.cursor else None
    except InvalidCursor as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    projection = app_state.projections.current()
    key = f"page:{projection}:{query.model_dump_json()}"

    def render() -> bytes:
        with app_state.sessions() as db:
            page = svc.list_instances(
                db,
                view,
                after,
                query.limit,
                protect_tag=app_state.settings.actions.protect_tag,
                summary_now=app_state.figures.get(
                    tenant_id, f"summary:{projection}", lambda: svc.summary(db, tenant_id)
                ),
            )
        return page.model_dump_json().encode()

    # Built and checked by pydantic already: serialised once, FastAPI's second pass skipped.
    body = await kept(app_state.figures, tenant_id, key, render, app_state.store_reads.run)
    return Response(body, media_type="application/json")


@router.get(
    "/api/instances.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the view as CSV"}},
)
def export_instances(
    login: ViewerLogin, app_state: StateDep, filters: Annotated[InstanceFilters, Query()]
) -> StreamingResponse:
    """The list as it is viewed (same filters, search and sort), every row, as CSV:
    instance_id, name, account_id, region, instance_type, state, verdict, confidence,
    idle_since, monthly_waste_usd, tags (``key=value;...``). Cells that a spreadsheet
    would run as a formula start with an apostrophe."""
    view = View(app_state.engine.dialect.name, login.tenant_id, filters)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        csv_chunks(app_state.sessions, view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="spendsense-instances-{stamp}.csv"'},
    )


@router.post("/api/instances/bulk")
def bulk_action(
    request: BulkRequest, login: OperatorLogin, db: DbSession, state: StateDep
) -> BulkResult:
    """Stop or mark "not idle" up to 100 instances, each through the same rails and audit
    as one alone; a refusal (protected, Auto Scaling group, not yours) is that row's
    result, not a failure of the request."""
    result = run_bulk(state.actions, db, login.tenant_id, login.email, request)
    state.projections.bump()  # every API process reads its pages again
    return result


@router.get("/api/instances/{instance_id}")
def get_instance(
    instance_id: InstanceId, login: ViewerLogin, db: DbSession, state: StateDep
) -> Instance:
    """One instance (404 unless it is in one of your accounts)."""
    row = svc.get_instance(db, login.tenant_id, instance_id)
    protect_tag = state.settings.actions.protect_tag
    return svc.to_schema(row, protect_tag, svc.last_alert(db, login.tenant_id, instance_id))


@router.get("/api/instances/{instance_id}/detail")
def instance_detail(instance_id: InstanceId, login: ViewerLogin, state: StateDep) -> InstanceDetail:
    """One instance with its verdict, 14 days of CloudWatch CPU and network (kept 5 minutes),
    the quiet runs under its rest level, its usage anomalies, the alert emails that named it
    and its audit (404
    unless it is yours). An AWS error is ``series.error``, not a failure of the request."""
    return read_detail(
        state.sessions,
        state.history,
        login.tenant_id,
        instance_id,
        protect_tag=state.settings.actions.protect_tag,
    )


@router.get("/api/instances/{instance_id}/anomalies")
def instance_anomalies(instance_id: InstanceId, login: ViewerLogin, db: DbSession) -> list[Anomaly]:
    """Its usage anomaly incidents, newest first: metric, direction, since and end, observed
    against the expected range, dollar rate (404 unless it is yours)."""
    return list_anomalies(db, login.tenant_id, instance_id)


@router.post("/api/instances/{instance_id}/stop")
def stop_instance(
    instance_id: InstanceId, login: OperatorLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Stop it now (safety rails apply; audited; 404 unless it is yours)."""
    result = state.actions.run(db, login.tenant_id, login.email, instance_id, "stop")
    state.projections.bump()  # every API process reads its pages again
    return result


@router.post("/api/instances/{instance_id}/start")
def start_instance(
    instance_id: InstanceId, login: OperatorLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Start it again (audited; 404 unless it is yours)."""
    result = state.actions.run(db, login.tenant_id, login.email, instance_id, "start")
    state.projections.bump()  # every API process reads its pages again
    return result


@router.post("/api/instances/{instance_id}/not-idle")
def mark_not_idle(
    instance_id: InstanceId, login: OperatorLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Say it is not idle: alerts stay quiet for this episode and the detector learns."""
    result = state.actions.mark_not_idle(db, login.tenant_id, login.email, instance_id)
    state.projections.bump()  # every API process reads its pages again
    return result
