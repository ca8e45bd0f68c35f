"""Key figures of the pipeline as the caller's tenant sees it: counts from the store, the
pipeline's health from Prometheus (:mod:`api.services.pipeline_health`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.schemas.monitoring import AccountHealth, Figure, Monitoring
from api.services.instances import summary
from api.services.pipeline_health import pipeline_health
from api.services.prometheus import PrometheusQueries
from spendsense.settings import Settings
from spendsense.store import list_aws_accounts
from spendsense.store.models import AuditEntry, EmailOutbox, utcnow
from spendsense.store.models.api import InstanceView


def _ago(at: datetime | None, now: datetime) -> str:
    """How long ago, coarsely.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    >>> _ago(now - timedelta(seconds=90), now), _ago(None, now)
    ('1 min ago', 'never')
    """
    if at is None:
        return "never"
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def monitoring(db: Session, settings: Settings, tenant_id: str, email: str) -> Monitoring:
    """The tenant's figures, accounts and pipeline health, and for an operator (``email``)
    where Prometheus and Grafana are (links a browser opens)."""
    now = utcnow()
    day_ago = now - timedelta(days=1)
    counts = summary(db, tenant_id)
    last_seen, last_scored = db.execute(
        select(func.max(InstanceView.observed_at), func.max(InstanceView.scored_at)).where(
            InstanceView.tenant_id == tenant_id
        )
    ).one()
    emails = db.scalar(
        select(func.count())
        .select_from(EmailOutbox)
        .where(EmailOutbox.tenant_id == tenant_id, EmailOutbox.status == "sent")
        .where(EmailOutbox.sent_at >= day_ago)
    )
    stops = db.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == "stop")
        .where(AuditEntry.result == "stopped", AuditEntry.at >= day_ago)
    )
    accounts = list_aws_accounts(db, tenant_id)
    ok = sum(1 for a in accounts if a.status == "ok")
    figures = [
        Figure(label="AWS accounts", value=str(len(accounts)), hint=f"{ok} reachable"),
        Figure(
            label="Instances tracked", value=str(counts.total), hint=f"{counts.running} running"
        ),
        Figure(
            label="Idle now", value=str(counts.idle), hint=f"${counts.monthly_waste_usd:,.2f}/month"
        ),
        Figure(label="Last inventory", value=_ago(last_seen, now)),
        Figure(label="Last detection", value=_ago(last_scored, now)),
        Figure(label="Alert e-mails (24 h)", value=str(emails or 0)),
        Figure(label="Instances stopped (24 h)", value=str(stops or 0)),
    ]
    api = settings.api
    operator = api.is_operator(email)
    with httpx.Client(timeout=api.prometheus_timeout_s) as client:
        pipeline = pipeline_health(
            PrometheusQueries(client, api.prometheus_url),
            settings,
            tenant_id,
            [a.account_id for a in accounts],
        )
    return Monitoring(
        figures=figures,
        accounts=[AccountHealth.model_validate(a, from_attributes=True) for a in accounts],
        pipeline=pipeline,
        prometheus_link=api.prometheus_link if operator else None,
        grafana_link=api.grafana_link if operator else None,
    )
