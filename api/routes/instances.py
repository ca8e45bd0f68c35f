"""The caller's tenant's EC2 instances; stop, start and "not idle" on one of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.cache import kept
from api.deps import CurrentLogin, DbSession, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas.instance_detail import InstanceDetail
from api.schemas.instances import ActionResult, Instance, InstancePage
from api.services import instances as svc
from api.services.instance_detail import read_detail

router = APIRouter(tags=["instances"], responses=ERROR_RESPONSES)

InstanceId = Annotated[str, Path(min_length=3, max_length=32, description="an EC2 instance id")]


@router.get("/api/instances", response_model=InstancePage)
async def list_instances(
    login: CurrentLogin,
    app_state: StateDep,
    idle: bool | None = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    """Instances, idle and most wasteful first, with tenant-wide counts.

    A page is kept per tenant and query (many dashboards of one tenant ask the same)
    and answered on the event loop. It is read again in the background after 2 seconds
    (alert times change without a projection change), and at once, by every API
    process, when someone acts or the projector commits a change: both move the shared
    projection count on, which is part of the key.
    """
    tenant_id = login.tenant_id
    projection = app_state.projections.current()
    key = f"page:{projection}:{idle}:{state}:{limit}:{offset}"

    def render() -> bytes:
        with app_state.sessions() as db:
            page = svc.list_instances(
                db,
                tenant_id,
                protect_tag=app_state.settings.actions.protect_tag,
                summary_now=app_state.figures.get(
                    tenant_id, f"summary:{projection}", lambda: svc.summary(db, tenant_id)
                ),
                idle=idle,
                state=state,
                limit=limit,
                offset=offset,
            )
        return page.model_dump_json().encode()

    # Built and checked by pydantic already: serialised once, FastAPI's second pass skipped.
    body = await kept(app_state.figures, tenant_id, key, render, app_state.store_reads.run)
    return Response(body, media_type="application/json")


@router.get("/api/instances/{instance_id}")
def get_instance(
    instance_id: InstanceId, login: CurrentLogin, db: DbSession, state: StateDep
) -> Instance:
    """One instance (404 unless it is in one of your accounts)."""
    row = svc.get_instance(db, login.tenant_id, instance_id)
    protect_tag = state.settings.actions.protect_tag
    return svc.to_schema(row, protect_tag, svc.last_alert(db, login.tenant_id, instance_id))


@router.get("/api/instances/{instance_id}/detail")
def instance_detail(
    instance_id: InstanceId, login: CurrentLogin, state: StateDep
) -> InstanceDetail:
    """One instance with its verdict, 14 days of CloudWatch CPU and network (kept 5 minutes),
    the quiet runs under its rest level, the alert emails that named it and its audit (404
    unless it is yours). An AWS error is ``series.error``, not a failure of the request."""
    return read_detail(
        state.sessions,
        state.history,
        login.tenant_id,
        instance_id,
        protect_tag=state.settings.actions.protect_tag,
    )


@router.post("/api/instances/{instance_id}/stop")
def stop_instance(
    instance_id: InstanceId, login: CurrentLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Stop it now (safety rails apply; audited; 404 unless it is yours)."""
    result = state.actions.run(db, login.tenant_id, login.email, instance_id, "stop")
    state.projections.bump()  # every API process reads its pages again
    return result


@router.post("/api/instances/{instance_id}/start")
def start_instance(
    instance_id: InstanceId, login: CurrentLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Start it again (audited; 404 unless it is yours)."""
    result = state.actions.run(db, login.tenant_id, login.email, instance_id, "start")
    state.projections.bump()  # every API process reads its pages again
    return result


@router.post("/api/instances/{instance_id}/not-idle")
def mark_not_idle(
    instance_id: InstanceId, login: CurrentLogin, db: DbSession, state: StateDep
) -> ActionResult:
    """Say it is not idle: alerts stay quiet for this episode and the detector learns."""
    result = state.actions.mark_not_idle(db, login.tenant_id, login.email, instance_id)
    state.projections.bump()  # every API process reads its pages again
    return result
