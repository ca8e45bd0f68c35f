"""The caller's organisation: profile (name, alert e-mail), auto-stop policy, ceilings of rest,
which usage anomalies alert."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminLogin, DbSession, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ErrorBody
from api.schemas.accounts import RestCeilings, RestCeilingsView, TenantSettings
from api.schemas.anomalies import AnomalyAlertSettings
from api.services import accounts as svc
from api.services import anomalies

router = APIRouter(tags=["settings"], responses=ERROR_RESPONSES)


@router.get("/api/settings")
def read_settings(login: ViewerLogin, db: DbSession) -> TenantSettings:
    """Profile and auto-stop policy."""
    return svc.read_settings(db, login.tenant_id)


@router.put("/api/settings", responses={503: {"model": ErrorBody}})
def write_settings(
    body: TenantSettings, login: AdminLogin, db: DbSession, state: StateDep
) -> TenantSettings:
    """Change the profile and auto-stop policy. A new alert address is mailed a
    confirmation link and stays pending (digests keep going to the confirmed one) until
    it is used; 503 when that mail cannot be sent (nothing is saved then)."""
    return svc.write_settings(db, state, login.tenant_id, body)


@router.get("/api/settings/ceilings")
def read_ceilings(login: ViewerLogin, db: DbSession) -> RestCeilingsView:
    """The idle model's ceilings of rest for this organisation (null: the default)."""
    return svc.read_ceilings(db, login.tenant_id)


@router.put("/api/settings/ceilings", responses={503: {"model": ErrorBody}})
def write_ceilings(
    body: RestCeilings, login: AdminLogin, db: DbSession, state: StateDep
) -> RestCeilingsView:
    """Change the ceilings of rest; every detector worker applies them from the next batch
    (503 when Kafka cannot take them: nothing is saved then)."""
    return svc.write_ceilings(db, state.events, login.tenant_id, login.email, body)


@router.get("/api/settings/anomaly-alerts")
def read_anomaly_alerts(login: ViewerLogin, db: DbSession) -> AnomalyAlertSettings:
    """Which usage anomalies the alert digest tells of."""
    return anomalies.read_alert_settings(db, login.tenant_id)


@router.put("/api/settings/anomaly-alerts")
def write_anomaly_alerts(
    body: AnomalyAlertSettings, login: AdminLogin, db: DbSession
) -> AnomalyAlertSettings:
    """Choose which usage anomalies alert: all, those above a dollar rate per hour, or none
    (from the next digest on)."""
    return anomalies.write_alert_settings(db, login.tenant_id, body)
