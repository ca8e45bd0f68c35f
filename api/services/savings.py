"""Money saved, computed from the ledger's prices and durations, per tenant.

An entry saves its hourly price for every hour from ``started_at`` until ``ended_at`` (or
now, while it saves); a month's figure takes only the hours inside that month (UTC). The
projector keeps one resource's entries from overlapping, so summing never counts an hour
twice.

>>> from datetime import timedelta
>>> t0 = datetime(2026, 10, 31, 20, tzinfo=UTC)
>>> stop = Span(t0, t0 + timedelta(hours=10), 0.5, "stop", "ana@example.com")
>>> [(month, round(usd, 2)) for month, usd in stop.by_month(now=t0 + timedelta(days=9))]
[('2026-10', 2.0), ('2026-11', 3.0)]
>>> s = summarise([stop], now=datetime(2026, 11, 9, tzinfo=UTC))
>>> (s.this_month_usd, s.total_usd, [(b.key, b.saved_usd) for b in s.by_action_kind])
(3.0, 5.0, [('stop', 5.0)])
>>> summarise([Span(t0, None, 0.5, "stop", "policy:auto-stop")], now=t0).saving_per_hour_usd
0.5
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas.savings import SavedBy, SavingsItem, SavingsSummary
from api.services.instance_csv import csv_lines, safe_cell
from spendsense.store.models import SavingsEntry
from spendsense.store.models.base import utcnow

HOUR_S = 3600.0
CSV_COLUMNS = (
    "id",
    "resource_kind",
    "resource_id",
    "account_id",
    "action_kind",
    "actor",
    "started_at",
    "ended_at",
    "end_reason",
    "hourly_price_usd",
    "hours",
    "saved_usd",
)
CSV_CHUNK = 1000


def month_start(at: datetime) -> datetime:
    """The first instant of ``at``'s month (UTC)."""
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    """The first instant of the month after the month starting at ``start``."""
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


@dataclass(frozen=True)
class Span:
    """One entry's saving: from ``start`` until ``end`` (None: still saving) at ``price``
    dollars an hour (None: unknown, saves nothing), by ``action_kind`` and ``actor``."""

    start: datetime
    end: datetime | None
    price: float | None
    action_kind: str
    actor: str

    def hours(self, now: datetime, lo: datetime | None = None, hi: datetime | None = None) -> float:
        """Hours saved up to ``now``, within ``lo``..``hi`` when given."""
        begin = max(self.start, lo) if lo else self.start
        end = min(self.end or now, now, hi) if hi else min(self.end or now, now)
        return max(0.0, (end - begin).total_seconds() / HOUR_S)

    def saved(self, now: datetime, lo: datetime | None = None, hi: datetime | None = None) -> float:
        """Dollars saved up to ``now``, within ``lo``..``hi`` when given."""
        return (self.price or 0.0) * self.hours(now, lo, hi)

    def rate(self, now: datetime) -> float:
        """Dollars an hour it saves at ``now`` (0 before it starts or once it ended)."""
        saving = self.start <= now and (self.end is None or self.end > now)
        return (self.price or 0.0) if saving else 0.0

    def by_month(self, now: datetime) -> Iterator[tuple[str, float]]:
        """``(YYYY-MM, dollars)`` for each month the saving spans, oldest first."""
        lo = month_start(self.start)
        last = min(self.end or now, now)
        while lo < last:
            hi = next_month(lo)
            yield lo.strftime("%Y-%m"), self.saved(now, lo, hi)
            lo = hi


def _cents(x: float) -> float:
    return round(x, 2)


def _ranked(totals: dict[str, float]) -> list[SavedBy]:
    return [
        SavedBy(key=k, saved_usd=_cents(v))
        for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def summarise(
    spans: Iterable[Span], now: datetime, items: list[SavingsItem] | None = None
) -> SavingsSummary:
    """The figures of a tenant's ledger as of ``now``, with a page of ``items``."""
    this_month = month_start(now)
    total = current = rate = 0.0
    months: dict[str, float] = defaultdict(float)
    kinds: dict[str, float] = defaultdict(float)
    actors: dict[str, float] = defaultdict(float)
    for span in spans:
        saved = span.saved(now)
        total += saved
        rate += span.rate(now)
        current += span.saved(now, this_month, next_month(this_month))
        kinds[span.action_kind] += saved
        actors[span.actor] += saved
        for month, usd in span.by_month(now):
            months[month] += usd
    page = items or []
    return SavingsSummary(
        as_of=now,
        this_month_usd=_cents(current),
        total_usd=_cents(total),
        saving_per_hour_usd=round(rate, 4),
        by_month=[SavedBy(key=m, saved_usd=_cents(v)) for m, v in sorted(months.items())],
        by_action_kind=_ranked(kinds),
        by_actor=_ranked(actors),
        items=page,
        next_before_id=None,
    )


def _span(entry: SavingsEntry) -> Span:
    return Span(
        entry.started_at, entry.ended_at, entry.hourly_price_usd, entry.action_kind, entry.actor
    )


def item(entry: SavingsEntry, now: datetime) -> SavingsItem:
    """One entry as the API shows it, counted up to ``now``."""
    span = _span(entry)
    return SavingsItem(
        id=entry.id,
        resource_kind=entry.resource_kind,
        resource_id=entry.resource_id,
        account_id=entry.account_id,
        action_kind=entry.action_kind,
        actor=entry.actor,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        end_reason=entry.end_reason,
        hourly_price_usd=entry.hourly_price_usd,
        hours=round(span.hours(now), 2),
        saved_usd=_cents(span.saved(now)),
    )


def entries(
    db: Session, tenant_id: str, *, limit: int, before_id: int | None = None
) -> list[SavingsEntry]:
    """A page of the tenant's entries, newest first, older than ``before_id`` when given."""
    query = select(SavingsEntry).where(SavingsEntry.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(SavingsEntry.id < before_id)
    return list(db.scalars(query.order_by(SavingsEntry.id.desc()).limit(limit)))


def savings_summary(
    db: Session, tenant_id: str, *, limit: int, before_id: int | None = None
) -> SavingsSummary:
    """The tenant's figures as of now and a page of its entries."""
    now = utcnow()
    rows = db.execute(
        select(
            SavingsEntry.started_at,
            SavingsEntry.ended_at,
            SavingsEntry.hourly_price_usd,
            SavingsEntry.action_kind,
            SavingsEntry.actor,
        ).where(SavingsEntry.tenant_id == tenant_id)
    )
    page = entries(db, tenant_id, limit=limit, before_id=before_id)
    summary = summarise((Span(*row) for row in rows), now, [item(e, now) for e in page])
    summary.next_before_id = page[-1].id if len(page) == limit else None
    return summary


def _csv_row(entry: SavingsItem) -> list[str]:
    cells = [
        str(entry.id),
        entry.resource_kind,
        entry.resource_id,
        entry.account_id or "",
        entry.action_kind,
        entry.actor,
        entry.started_at.isoformat(),
        entry.ended_at.isoformat() if entry.ended_at else "",
        entry.end_reason,
        "" if entry.hourly_price_usd is None else f"{entry.hourly_price_usd:.4f}",
        f"{entry.hours:.2f}",
        f"{entry.saved_usd:.2f}",
    ]
    return [safe_cell(c) for c in cells]


def savings_csv(
    sessions: Callable[[], AbstractContextManager[Session]], tenant_id: str
) -> Iterator[str]:
    """The header, then every entry newest first, :data:`CSV_CHUNK` at a time, each chunk
    read on a short session of its own; figures counted up to the export's start."""
    now = utcnow()
    yield csv_lines([CSV_COLUMNS])
    before: int | None = None
    while True:
        with sessions() as db:
            page = [item(e, now) for e in entries(db, tenant_id, limit=CSV_CHUNK, before_id=before)]
        if not page:
            return
        yield csv_lines(_csv_row(e) for e in page)
        if len(page) < CSV_CHUNK:
            return
        before = page[-1].id
