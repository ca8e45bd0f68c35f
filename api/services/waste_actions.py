"""A person's action on a wasted resource from the dashboard, through
:class:`actions.waste_executor.WasteExecutor` (rails, AssumeRole, audit, the ``actions``
topic). One executor per API process, built on first use."""

from __future__ import annotations

from datetime import datetime

from actions.audit import BestEffortSink
from actions.waste_actions import find_action
from actions.waste_executor import WasteExecutor, WasteRequest
from api.deps import Login
from api.errors import ApiError
from api.schemas.waste import WasteActionRequest, WasteActionResult
from api.services.waste import get_resource
from api.state import AppState
from spendsense.access import TenantSessions
from spendsense.errors import NotFound

EXECUTOR = "waste-executor"


def executor(state: AppState) -> WasteExecutor:
    """The process's executor (kept in ``state.extras``)."""
    found = state.extras.get(EXECUTOR)
    if not isinstance(found, WasteExecutor):
        found = WasteExecutor(
            state.settings.actions,
            state.sessions,
            TenantSessions(state.aws),
            BestEffortSink(state.events),
        )
        state.extras[EXECUTOR] = found
    return found


def default_key(
    tenant_id: str, kind: str, resource_id: str, action: str, seen: datetime | None
) -> str:
    """One decision per resource, action and sighting (the collector's last look at it): a
    repeat of the click or a retry returns the first result, and once the resource was seen
    again (a database AWS started after its 7 days, a gateway still there) it can be acted
    on anew.

    >>> from datetime import UTC, datetime
    >>> default_key("acme", "elastic-ip", "eipalloc-0abc", "release",
    ...             datetime(2026, 12, 1, 10, tzinfo=UTC))
    'acme/waste/elastic-ip/eipalloc-0abc/release/2026-12-01T10:00:00+00:00'
    """
    sighting = seen.isoformat() if seen is not None else "-"
    return f"{tenant_id}/waste/{kind}/{resource_id}/{action}/{sighting}"


def run_action(
    state: AppState,
    login: Login,
    kind: str,
    resource_id: str,
    action: str,
    request: WasteActionRequest,
) -> WasteActionResult:
    """Carry out the action (404 unless the resource is the caller's and the kind has the
    action; 403 for an irreversible one unless the caller is an admin; 422 without the
    typed confirmation it needs; 502 when AWS said no)."""
    tenant_id, actor = login.tenant_id, login.email
    with state.sessions() as db:
        row = get_resource(db, tenant_id, kind, resource_id)
        account_id, region, seen = row.account_id, row.region, row.observed_at
    plugin = find_action(kind, action)
    if plugin is not None and plugin.confirm and not login.may("admin"):
        raise ApiError(
            403,
            "role_required",
            f"{kind} {action} cannot be undone: it needs the admin role (yours is "
            f"{login.role}): ask an admin",
        )
    key = (
        f"{tenant_id}/api/{request.decision_key}"
        if request.decision_key
        else default_key(tenant_id, kind, resource_id, action, seen)
    )
    try:
        outcome = executor(state).act(
            WasteRequest(
                tenant_id=tenant_id,
                kind=kind,
                resource_id=resource_id,
                action=action,
                actor=actor,
                decision_key=key,
                account_id=account_id,
                region=region,
                reason=f"{action} requested on the dashboard",
                confirm=request.confirm,
            )
        )
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    if outcome.result == "confirm-required":
        raise ApiError(422, "confirm_required", f"{resource_id}: {outcome.message}")
    if outcome.result == "failed":
        raise ApiError(502, "aws_failed", f"{resource_id}: {outcome.message}")
    return WasteActionResult(
        kind=kind,
        resource_id=resource_id,
        action=action,
        result=outcome.result,
        message=f"{resource_id}: {outcome.message}",
        previous=outcome.previous,
        details=outcome.details,
    )
