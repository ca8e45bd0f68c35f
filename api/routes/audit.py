"""The caller's tenant's audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DbSession, ViewerLogin
from api.errors import ERROR_RESPONSES
from api.schemas.audit import AuditItem, AuditPage
from spendsense.store.audit import list_audit

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/api/audit")
def audit_log(
    login: ViewerLogin,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    instance_id: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPage:
    """Entries newest first, optionally for one instance."""
    rows = list_audit(
        db, login.tenant_id, limit=limit, before_id=before_id, instance_id=instance_id
    )
    items = [AuditItem.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
