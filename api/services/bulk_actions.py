"""Stop or "not idle" on several instances at once, each exactly as if asked alone.

Every id goes through :meth:`InstanceActions.run` or :meth:`InstanceActions.mark_not_idle`,
so the executor's rails and the audit apply row by row; what one row refuses or fails
(protected, in an Auto Scaling group, not yours, AWS said no) is that row's result and
the others go on.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import ApiError
from api.schemas.instances import ActionResult, BulkRequest, BulkResult, BulkRowResult
from api.services.instance_actions import InstanceActions
from spendsense.errors import NotFound

CARRIED_OUT = frozenset({"stopped", "recorded"})


def _one(
    actions: InstanceActions, db: Session, tenant_id: str, actor: str, verb: str, iid: str
) -> BulkRowResult:
    try:
        if verb == "stop":
            done: ActionResult = actions.run(db, tenant_id, actor, iid, "stop")
        else:
            done = actions.mark_not_idle(db, tenant_id, actor, iid)
    except NotFound as exc:
        return BulkRowResult(
            instance_id=iid, ok=False, message=str(exc), action=verb, result="not_found"
        )
    except ApiError as exc:  # AWS refused the call: the row failed, the batch goes on
        return BulkRowResult(
            instance_id=iid, ok=False, message=exc.message, action=verb, result="failed"
        )
    return BulkRowResult(ok=done.result in CARRIED_OUT, **done.model_dump())


def run_bulk(
    actions: InstanceActions, db: Session, tenant_id: str, actor: str, request: BulkRequest
) -> BulkResult:
    """Each instance of ``request`` in turn, in the order given."""
    results = [
        _one(actions, db, tenant_id, actor, request.action, iid) for iid in request.instance_ids
    ]
    return BulkResult(
        action=request.action,
        results=results,
        done=sum(r.ok for r in results),
        stopped=sum(r.result == "stopped" for r in results),
    )
