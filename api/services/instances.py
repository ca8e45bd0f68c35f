"""The tenant's instances from the ``instances`` projection (every query filters by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from actions.stopping import managed_by
from api.schemas.instances import Instance, InstancePage, InstanceSummary
from api.services.instance_query import View, page_rows
from spendsense.errors import NotFound
from spendsense.store.models import InstanceAlertState
from spendsense.store.models.api import InstanceView


def not_stoppable_reason(row: InstanceView, protect_tag: str) -> str | None:
    """Why SpendSense will not stop this instance, or ``None`` if it may (the executor's
    rails decide again at stop time with a fresh description).

    >>> row = InstanceView(root_device_type="ebs", lifecycle="on-demand", tags={"spendsense:protect": ""})
    >>> not_stoppable_reason(row, "spendsense:protect")
    'it carries the spendsense:protect tag'
    """
    if protect_tag in (row.tags or {}):
        return f"it carries the {protect_tag} tag"
    if row.asg_name:
        return f"it belongs to Auto Scaling group {row.asg_name}, which would replace it"
    managed = managed_by(row.tags or {})
    if managed is not None:
        return managed[1]
    if row.root_device_type == "instance-store":
        return "its root device is instance store: stopping would lose it"
    if row.lifecycle == "spot":
        return "it is a spot instance: stopping may end it for good"
    if row.stop_protection:
        return "stop protection (DisableApiStop) is on"
    return None


def to_schema(
    row: InstanceView, protect_tag: str, last_alert_at: datetime | None = None
) -> Instance:
    why = not_stoppable_reason(row, protect_tag)
    return Instance(
        instance_id=row.instance_id,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        state=row.state,
        instance_type=row.instance_type,
        status=row.status,
        confidence=row.confidence,
        idle=row.idle,
        idle_since=row.idle_since,
        reason=row.reason,
        monthly_waste_usd=round(row.monthly_waste_usd or 0.0, 2),
        last_alert_at=last_alert_at,
        last_action=row.last_action,
        last_action_at=row.last_action_at,
        stoppable=why is None,
        not_stoppable_reason=why,
        scored_at=row.scored_at,
    )


def last_alert(db: Session, tenant_id: str, instance_id: str) -> datetime | None:
    """When the instance was last in an alert e-mail (the actions worker's record)."""
    return db.scalar(
        select(InstanceAlertState.alerted_at).where(
            InstanceAlertState.tenant_id == tenant_id,
            InstanceAlertState.instance_id == instance_id,
        )
    )


def get_instance(db: Session, tenant_id: str, instance_id: str) -> InstanceView:
    """One of the tenant's instances; :class:`NotFound` for any other (another tenant's too)."""
    row = db.get(InstanceView, (tenant_id, instance_id))
    if row is None:
        raise NotFound(f"no instance {instance_id} in your accounts")
    return row


def summary(db: Session, tenant_id: str) -> InstanceSummary:
    """Counts and waste over all the tenant's instances (one aggregate query)."""
    running = InstanceView.state == "running"
    idle_running = running & InstanceView.idle
    row = db.execute(
        select(
            func.count(),
            func.sum(case((running, 1), else_=0)),
            func.sum(case((idle_running, 1), else_=0)),
            func.sum(case((idle_running, InstanceView.monthly_waste_usd), else_=0.0)),
        ).where(InstanceView.tenant_id == tenant_id)
    ).one()
    return InstanceSummary(
        total=int(row[0] or 0),
        running=int(row[1] or 0),
        idle=int(row[2] or 0),
        monthly_waste_usd=round(float(row[3] or 0.0), 2),
    )


def list_instances(
    db: Session,
    view: View,
    after: Sequence[object] | None,
    limit: int,
    *,
    protect_tag: str,
    summary_now: InstanceSummary,
) -> InstancePage:
    """Up to ``limit`` of the view's instances after the sort key ``after`` (a cursor's).
    A first page of a search counts the matching rows in the same pass; others count apart."""
    page = page_rows(db, view, after, limit, counted=after is None and view.reads_every_row)
    return InstancePage(
        items=[to_schema(r, protect_tag, alerted) for r, alerted in page.rows],
        total=view.count(db) if page.total is None else page.total,
        summary=summary_now,
        limit=limit,
        next_cursor=view.cursor_after(page.last) if page.last is not None else None,
        sort=view.sort,
        order=view.order,
    )
