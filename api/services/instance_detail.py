"""One instance in full for its page: the projection row, the verdict, 14 days of CloudWatch
metrics with the quiet runs under its rest level, its usage anomalies, the alert emails that
named it and its audit.

The store is read in one short session, closed before CloudWatch is asked (which may take
seconds), so the request never holds a pooled connection while it waits for AWS.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session, sessionmaker

from api.schemas.audit import AuditItem
from api.schemas.instance_detail import AlertEmail, InstanceDetail, MetricSeries, QuietRun, Verdict
from api.services.anomalies import list_anomalies
from api.services.instances import get_instance, last_alert, to_schema
from api.services.metric_history import MetricHistory
from spendsense.access import AccountRef
from spendsense.store import get_aws_account, list_audit
from spendsense.store.models import EmailOutbox
from spendsense.store.models.api import InstanceView

HISTORY_ITEMS = 50  # alert emails and audit entries shown, newest first


def verdict_of(row: InstanceView) -> Verdict:
    """The verdict the projection holds for the instance."""
    return Verdict(
        status=row.status,
        confidence=row.confidence,
        reason=row.reason,
        idle_since=row.idle_since,
        scored_at=row.scored_at,
        rest_cpu_percent=row.rest_cpu_percent,
        rest_network_bps=row.rest_network_bps,
    )


def quiet_runs(
    series: MetricSeries, rest_cpu_percent: float | None, rest_network_bps: float | None
) -> list[QuietRun]:
    """Stretches of consecutive points at or under both rest limits (none before any limit).

    >>> from datetime import UTC, datetime
    >>> t0 = datetime(2026, 11, 20, tzinfo=UTC)
    >>> s = MetricSeries(start=t0, end=t0 + timedelta(minutes=25), period_s=300,
    ...                  cpu_percent=[0.5, 0.4, 9.0, 0.3, None],
    ...                  network_bps=[10.0, 20.0, 5.0, 30.0, 1.0])
    >>> [(r.start.minute, r.end.minute, r.periods) for r in quiet_runs(s, 1.0, 100.0)]
    [(0, 10, 2), (15, 20, 1)]
    >>> quiet_runs(s, None, 100.0)
    []
    """
    if rest_cpu_percent is None or rest_network_bps is None:
        return []
    period = timedelta(seconds=series.period_s)
    runs: list[QuietRun] = []
    first: int | None = None
    points = zip(series.cpu_percent, series.network_bps, strict=True)
    for n, (cpu, net) in enumerate([*points, (None, None)]):  # a sentinel ends the last run
        quiet = (
            cpu is not None
            and net is not None
            and cpu <= rest_cpu_percent
            and net <= rest_network_bps
        )
        if quiet and first is None:
            first = n
        elif not quiet and first is not None:
            runs.append(
                QuietRun(
                    start=series.start + first * period,
                    end=series.start + n * period,
                    periods=n - first,
                )
            )
            first = None
    return runs


def alert_emails(db: Session, tenant_id: str, instance_id: str) -> list[AlertEmail]:
    """The tenant's alert emails whose digest named the instance, newest first."""
    rows = db.scalars(
        select(EmailOutbox)
        .where(
            EmailOutbox.tenant_id == tenant_id,
            cast(EmailOutbox.instance_ids, Text).contains(f'"{instance_id}"', autoescape=True),
        )
        .order_by(EmailOutbox.id.desc())
        .limit(HISTORY_ITEMS)
    )
    return [AlertEmail.model_validate(r, from_attributes=True) for r in rows]


def read_detail(
    sessions: sessionmaker[Session],
    history: MetricHistory,
    tenant_id: str,
    instance_id: str,
    *,
    protect_tag: str,
) -> InstanceDetail:
    """Everything the instance page shows; :class:`~spendsense.errors.NotFound` unless the
    instance is the tenant's (another tenant's answers exactly like one that exists nowhere)."""
    with sessions() as db:
        row = get_instance(db, tenant_id, instance_id)
        instance = to_schema(row, protect_tag, last_alert(db, tenant_id, instance_id))
        verdict = verdict_of(row)
        account = get_aws_account(db, tenant_id, row.account_id)
        ref = AccountRef.of(account) if account is not None else None
        alerts = alert_emails(db, tenant_id, instance_id)
        anomalies = list_anomalies(db, tenant_id, instance_id)
        audit = [
            AuditItem.model_validate(entry, from_attributes=True)
            for entry in list_audit(db, tenant_id, instance_id=instance_id, limit=HISTORY_ITEMS)
        ]
    if ref is None:
        series = history.unavailable(
            f"AWS account {instance.account_id} is not connected any more: connect it in "
            "Settings to see this instance's metrics."
        )
    else:
        series = history.read(ref, instance.region, instance_id)
    return InstanceDetail(
        instance=instance,
        verdict=verdict,
        series=series,
        quiet_runs=quiet_runs(series, verdict.rest_cpu_percent, verdict.rest_network_bps),
        anomalies=anomalies,
        alerts=alerts,
        audit=audit,
    )
