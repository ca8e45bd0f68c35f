"""The caller's organisation: profile (name, alert e-mail) and auto-stop policy."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentLogin, DbSession
from api.errors import ERROR_RESPONSES
from api.schemas.accounts import TenantSettings
from api.services import accounts as svc

router = APIRouter(tags=["settings"], responses=ERROR_RESPONSES)


@router.get("/api/settings")
def read_settings(login: CurrentLogin, db: DbSession) -> TenantSettings:
    """Profile and auto-stop policy."""
    return svc.read_settings(db, login.tenant_id)


@router.put("/api/settings")
def write_settings(body: TenantSettings, login: CurrentLogin, db: DbSession) -> TenantSettings:
    """Change the profile and auto-stop policy."""
    return svc.write_settings(db, login.tenant_id, body)
