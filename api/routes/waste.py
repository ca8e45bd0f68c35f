"""The caller's wasted resources beyond instances: the overview by kind, a kind's list, one
resource, an action on one (JSON); and their pages (``/waste``, ``/waste/{kind}``,
``/waste/{kind}/{resource_id}``). A load balancer's and a database's id is its ARN, colons
and slashes and all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from actions.waste_digest import KIND_LABELS
from api.deps import DbSession, MaybeLogin, OperatorLogin, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ApiError
from api.pages import render
from api.schemas.waste import (
    WasteActionRequest,
    WasteActionResult,
    WasteDetail,
    WasteListQuery,
    WasteOverview,
    WastePage,
)
from api.services import waste as svc
from api.services.waste_actions import run_action

router = APIRouter(tags=["waste"], responses=ERROR_RESPONSES)

Kind = Annotated[str, Path(min_length=3, max_length=30, description="a resource kind")]
ResourceId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=256,
        description="the resource's id (an ARN for a load balancer or a database)",
    ),
]
Action = Annotated[str, Path(min_length=2, max_length=40, description="an action of the kind")]


@router.get("/api/waste")
def waste_overview(login: ViewerLogin, db: DbSession) -> WasteOverview:
    """Each kind's wasted resources: how many and what they cost a month, beside the idle
    instances' figures."""
    return svc.overview(db, login.tenant_id)


@router.get("/api/waste/{kind}")
def waste_list(
    kind: Kind,
    login: ViewerLogin,
    db: DbSession,
    state: StateDep,
    query: Annotated[WasteListQuery, Query()],
) -> WastePage:
    """A page of one kind's resources, wasted and costliest first: verdict, reason, price,
    actions (``all=true`` lists those found fine or gone too)."""
    return svc.list_kind(db, login.tenant_id, kind, query, state.settings.actions.protect_tag)


@router.post("/api/waste/{kind}/{resource_id:path}/actions/{action}")
def waste_action(
    kind: Kind,
    resource_id: ResourceId,
    action: Action,
    request: WasteActionRequest,
    login: OperatorLogin,
    state: StateDep,
) -> WasteActionResult:
    """Act on one resource (rails apply, the protect tag first; audited; idempotent: a
    repeat of a decision returns its first result). An irreversible action needs
    ``confirm``: the id, name or public IP typed by the person, and an admin: an operator
    stops and flags, only an admin deletes or releases."""
    return run_action(state, login, kind, resource_id, action, request)


@router.get("/api/waste/{kind}/{resource_id:path}")
def waste_detail(
    kind: Kind, resource_id: ResourceId, login: ViewerLogin, db: DbSession, state: StateDep
) -> WasteDetail:
    """One resource with its verdict, facts, tags, actions and audit (404 unless yours)."""
    return svc.detail(db, login.tenant_id, kind, resource_id, state.settings.actions.protect_tag)


# -- pages ---------------------------------------------------------------------------------


@router.get("/waste", response_class=HTMLResponse, include_in_schema=False)
def waste_page(request: Request, login: MaybeLogin) -> Response:
    """The overview by kind (its script reads ``/api/waste``)."""
    if login is None:
        return RedirectResponse("/login", status_code=303)
    return render(
        request, "waste.html", email=login.email, page="waste", kind="", labels=KIND_LABELS
    )


@router.get("/waste/{kind}", response_class=HTMLResponse, include_in_schema=False)
def waste_kind_page(kind: Kind, request: Request, login: MaybeLogin) -> Response:
    """One kind's list (its script reads ``/api/waste/{kind}``)."""
    if login is None:
        return RedirectResponse("/login", status_code=303)
    if kind not in KIND_LABELS:
        return render(request, "waste.html", status_code=404, email=login.email, missing=kind)
    return render(
        request, "waste.html", email=login.email, page="waste", kind=kind, labels=KIND_LABELS
    )


@router.get(
    "/waste/{kind}/{resource_id:path}", response_class=HTMLResponse, include_in_schema=False
)
def waste_resource_page(
    kind: Kind, resource_id: ResourceId, request: Request, login: MaybeLogin, db: DbSession
) -> Response:
    """One resource's page (its script reads ``/api/waste/{kind}/{resource_id}``); 404
    unless it is yours, another tenant's answering exactly like an unknown id."""
    if login is None:
        return RedirectResponse("/login", status_code=303)
    try:
        row = svc.get_resource(db, login.tenant_id, kind, resource_id)
    except ApiError as err:
        return render(
            request, "waste_resource.html", status_code=404, email=login.email, missing=str(err)
        )
    return render(
        request,
        "waste_resource.html",
        email=login.email,
        page="waste",
        kind=row.kind,
        label=KIND_LABELS[row.kind],
        resource_id=row.resource_id,
        title=row.name or row.resource_id,
    )
