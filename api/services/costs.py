"""Cost figures from the collectors' Cost Explorer cache, per tenant.

>>> lines = [{"day": "2026-11-20", "service": "EC2", "amount_usd": 2.0},
...          {"day": "2026-11-21", "service": "EC2", "amount_usd": 3.0},
...          {"day": "2026-11-21", "service": "S3", "amount_usd": 1.0},
...          {"day": "2026-10-31", "service": "EC2", "amount_usd": 9.0}]
>>> s = summarise(lines, today=date(2026, 11, 22), fetched_at=None, accounts=1)
>>> (s.as_of, s.month_to_date_usd, s.last_7_days_usd, len(s.daily))
(datetime.date(2026, 11, 21), 6.0, 6.0, 7)
>>> [(c.service, c.amount_usd) for c in s.by_service]
[('EC2', 5.0), ('S3', 1.0)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.schemas.costs import CostSummary, DailyCost, ServiceCost
from spendsense.store.models.base import utcnow
from spendsense.store.models.ingest import CostCache

DAYS = 7
TOP_SERVICES = 8


def _cents(x: float) -> float:
    return round(x, 2)


def summarise(
    lines: Iterable[Mapping[str, Any]], *, today: date, fetched_at: datetime | None, accounts: int
) -> CostSummary:
    """Daily totals of the 7 days up to the newest day with data (``today`` without data),
    month to date of that day's month, and that month's spend by service."""
    by_day: dict[date, float] = defaultdict(float)
    by_service: dict[str, float] = defaultdict(float)
    parsed = [(date.fromisoformat(str(ln["day"])[:10]), ln) for ln in lines]
    as_of = max((d for d, _ in parsed), default=today)
    for day, line in parsed:
        amount = float(line.get("amount_usd", 0.0))
        by_day[day] += amount
        if day.year == as_of.year and day.month == as_of.month and day <= as_of:
            by_service[str(line.get("service", "Other"))] += amount
    window = [as_of - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    ranked = sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0]))
    services = [ServiceCost(service=s, amount_usd=_cents(a)) for s, a in ranked[:TOP_SERVICES]]
    rest = sum(a for _, a in ranked[TOP_SERVICES:])
    if rest:
        services.append(ServiceCost(service="Other", amount_usd=_cents(rest)))
    return CostSummary(
        as_of=as_of,
        fetched_at=fetched_at,
        accounts=accounts,
        month_to_date_usd=_cents(sum(by_service.values())),
        last_7_days_usd=_cents(sum(by_day[d] for d in window)),
        daily=[DailyCost(day=d, amount_usd=_cents(by_day[d])) for d in window],
        by_service=services,
    )


def cost_version(db: Session, tenant_id: str) -> str:
    """What changes whenever the tenant's cached Cost Explorer answers change (one index read)."""
    count, newest = db.execute(
        select(func.count(), func.max(CostCache.fetched_at)).where(CostCache.tenant_id == tenant_id)
    ).one()
    return f"{count}/{newest.isoformat() if newest else '-'}"


def cost_summary(db: Session, tenant_id: str) -> CostSummary:
    """The tenant's cost summary across its connected accounts' cached answers."""
    rows = db.execute(
        select(CostCache.lines, CostCache.fetched_at).where(CostCache.tenant_id == tenant_id)
    ).all()
    lines = [line for row in rows for line in row.lines]
    fetched = max((row.fetched_at for row in rows), default=None)
    return summarise(lines, today=utcnow().date(), fetched_at=fetched, accounts=len(rows))
