"""Reading the caller's wasted resources: the overview by kind, one kind's page, one resource.

Every query is scoped by the caller's tenant; a resource of another tenant is a 404.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from actions.waste_actions import action_name, plugins
from actions.waste_digest import KIND_LABELS
from api.errors import ApiError
from api.schemas import waste as schema
from api.services.instances import summary
from spendsense.events import RESOURCE_KINDS
from spendsense.store.models import AuditEntry
from spendsense.store.models.waste import WasteResource

NOTES = {
    "rds-instance-stop": "AWS starts a stopped database again by itself after 7 days.",
    "elastic-ip-release": "Irreversible: the address cannot be had back.",
    "ebs-volume-snapshot-then-delete": "A snapshot is taken and completed before the volume goes.",
}
"""What the page says beside an action (keyed by its registered name)."""


def known_kind(kind: str) -> str:
    """``kind`` if it is a resource kind, else a 404 that lists them."""
    if kind not in RESOURCE_KINDS:
        raise ApiError(
            404, "not_found", f"no resource kind {kind!r} (known: {', '.join(RESOURCE_KINDS)})"
        )
    return kind


def offered(kind: str) -> list[schema.WasteAction]:
    """The actions the page offers on a resource of ``kind``."""
    return [
        schema.WasteAction(
            action=p.action,
            confirm=p.confirm,
            policy=p.policy,
            note=NOTES.get(action_name(kind, p.action), ""),
        )
        for p in plugins()
        if p.kind == kind
    ]


def overview(db: Session, tenant_id: str) -> schema.WasteOverview:
    """Each kind's count and dollars a month (one aggregate query), beside the instances'."""
    wasted = WasteResource.verdict == "waste"
    rows = db.execute(
        select(
            WasteResource.kind,
            func.sum(case((wasted, 1), else_=0)),
            func.sum(case((WasteResource.verdict == "provisional", 1), else_=0)),
            func.sum(case((wasted, WasteResource.monthly_waste_usd), else_=0.0)),
        )
        .where(WasteResource.tenant_id == tenant_id)
        .group_by(WasteResource.kind)
    ).all()
    found = {r[0]: r for r in rows}
    kinds = [
        schema.KindSummary(
            kind=kind,
            label=KIND_LABELS[kind],
            count=int(found[kind][1] or 0) if kind in found else 0,
            provisional=int(found[kind][2] or 0) if kind in found else 0,
            monthly_waste_usd=round(float(found[kind][3] or 0.0), 2) if kind in found else 0.0,
        )
        for kind in RESOURCE_KINDS
    ]
    return schema.WasteOverview(
        kinds=kinds,
        count=sum(k.count for k in kinds),
        monthly_waste_usd=round(sum(k.monthly_waste_usd for k in kinds), 2),
        instances=summary(db, tenant_id),
    )


def to_schema(row: WasteResource, protect_tag: str) -> schema.WasteResource:
    """The row as the API shows it."""
    return schema.WasteResource(
        kind=row.kind,
        resource_id=row.resource_id,
        account_id=row.account_id,
        region=row.region,
        name=row.name or "",
        state=row.state or "",
        verdict=row.verdict,
        reason=row.reason or "",
        monthly_price_usd=row.monthly_price_usd,
        monthly_waste_usd=row.monthly_waste_usd or 0.0,
        since=row.since,
        protected=protect_tag in (row.tags or {}),
        last_action=row.last_action,
        last_action_at=row.last_action_at,
        actions=offered(row.kind),
    )


def list_kind(
    db: Session, tenant_id: str, kind: str, query: schema.WasteListQuery, protect_tag: str
) -> schema.WastePage:
    """A page of one kind's resources: wasted first, costliest first (all verdicts with
    ``query.all``, else wasted and provisional only)."""
    where = [WasteResource.tenant_id == tenant_id, WasteResource.kind == known_kind(kind)]
    if not query.all:
        where.append(WasteResource.verdict.in_(("waste", "provisional")))
    total = int(db.scalar(select(func.count()).select_from(WasteResource).where(*where)) or 0)
    rows = db.scalars(
        select(WasteResource)
        .where(*where)
        .order_by(
            case((WasteResource.verdict == "waste", 0), else_=1),
            WasteResource.monthly_waste_usd.desc(),
            WasteResource.resource_id,
        )
        .offset(query.offset)
        .limit(query.limit)
    ).all()
    return schema.WastePage(
        kind=kind,
        label=KIND_LABELS[kind],
        items=[to_schema(r, protect_tag) for r in rows],
        total=total,
        offset=query.offset,
        limit=query.limit,
    )


def get_resource(db: Session, tenant_id: str, kind: str, resource_id: str) -> WasteResource:
    """The caller's resource, or 404."""
    row = db.get(WasteResource, (tenant_id, known_kind(kind), resource_id))
    if row is None:
        raise ApiError(404, "not_found", f"no such {kind} in your accounts")
    return row


def resource_audit(
    db: Session, tenant_id: str, kind: str, resource_id: str
) -> list[dict[str, object]]:
    """What was done to the resource, newest first (the audit entries naming it)."""
    entries = db.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.tenant_id == tenant_id,
            AuditEntry.action.startswith(f"{kind}:"),
            AuditEntry.details["resource_id"].as_string() == resource_id,
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(100)
    ).all()
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action.split(":", 1)[1],
            "result": e.result,
            "dry_run": e.dry_run,
            "details": e.details,
        }
        for e in entries
    ]


def detail(
    db: Session, tenant_id: str, kind: str, resource_id: str, protect_tag: str
) -> schema.WasteDetail:
    """One resource with its tags, facts and audit (404 unless it is the caller's)."""
    row = get_resource(db, tenant_id, kind, resource_id)
    return schema.WasteDetail(
        **to_schema(row, protect_tag).model_dump(),
        tags=dict(row.tags or {}),
        details=dict(row.details or {}),
        observed_at=row.observed_at,
        audit=resource_audit(db, tenant_id, kind, resource_id),
    )
