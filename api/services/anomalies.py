"""An instance's usage anomalies (the projector's ``anomalies`` table) and the organisation's
choice of which anomalies alert (``actions.anomaly_alerts``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas.anomalies import Anomaly, AnomalyAlertSettings
from api.services.accounts import _tenant
from api.services.instances import get_instance
from spendsense.store.models import AnomalyView

SHOWN = 100  # incidents per instance, newest first


def list_anomalies(db: Session, tenant_id: str, instance_id: str) -> list[Anomaly]:
    """The instance's incidents, newest first; :class:`NotFound` unless it is the tenant's."""
    get_instance(db, tenant_id, instance_id)
    rows = db.scalars(
        select(AnomalyView)
        .where(AnomalyView.tenant_id == tenant_id, AnomalyView.instance_id == instance_id)
        .order_by(AnomalyView.since.desc(), AnomalyView.incident_id)
        .limit(SHOWN)
    )
    return [Anomaly.model_validate(r, from_attributes=True) for r in rows]


def read_alert_settings(db: Session, tenant_id: str) -> AnomalyAlertSettings:
    t = _tenant(db, tenant_id)
    return AnomalyAlertSettings(
        mode=t.anomaly_alerts,
        min_usd_per_hour=t.anomaly_alert_min_usd_per_hour,
    )


def write_alert_settings(
    db: Session, tenant_id: str, body: AnomalyAlertSettings
) -> AnomalyAlertSettings:
    """Save the choice; the actions worker applies it from the next digest it builds."""
    t = _tenant(db, tenant_id)
    t.anomaly_alerts = body.mode
    t.anomaly_alert_min_usd_per_hour = body.min_usd_per_hour
    db.commit()
    return read_alert_settings(db, tenant_id)
