"""The savings ledger's writer: folds ``actions`` and ``inventory`` into ``savings_entries``.

A stop (``stop`` → ``stopped``; ``schedule`` when its actor is ``schedule:<name>``) or a
deletion (any action whose result is ``deleted`` or ``released``; a waste action is named
``<kind>:<verb>``) opens an entry at the hourly price of that moment: the
record's ``hourly_price_usd``, else the resource's last known price (the instance's, or
the waste resource's a month over 730 hours). A ``start`` → ``started`` ends the
resource's open entry, and so does an inventory record that shows the instance running
(or terminated) after the stop: it ends at the instance's launch time when EC2 moved it
past the stop (EC2 sets it at every start), else when it was seen. A stopped database
ends when a waste record shows it running again, at the latest after 7 days (AWS starts
it again). A deletion never ends, except that a resource
acted on again ends its earlier entry there, so two entries of one resource never overlap.
Each entry's key is the action's decision key (else its audit id), unique per tenant: a
replayed action adds nothing.

>>> from spendsense.store.engine import make_engine, session_factory
>>> from spendsense.store.migrate import ensure_schema
>>> from spendsense.store.tenants import create_tenant
>>> from spendsense.settings import StoreSettings
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> _ = ensure_schema(engine)
>>> t0 = datetime(2026, 11, 27, 9, tzinfo=UTC)
>>> stop = ActionRecord(tenant_id="acme", instance_id="i-0abc1234", action="stop",
...     actor="schedule:office-hours", result="stopped", at=t0, decision_key="k1",
...     hourly_price_usd=0.096)
>>> start = stop.model_copy(update={"action": "start", "result": "started",
...     "at": t0 + timedelta(hours=3), "decision_key": "k2"})
>>> with session_factory(engine).begin() as session:
...     _ = create_tenant(session, "Acme", tenant_id="acme")
...     (fold_action(session, stop), fold_action(session, stop), fold_action(session, start))
(True, False, True)
>>> with session_factory(engine)() as session:
...     e = session.scalars(select(SavingsEntry)).one()
...     (e.action_kind, e.ended_at - e.started_at, e.end_reason)
('schedule', datetime.timedelta(seconds=10800), 'start by schedule')
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from spendsense.events import ActionRecord, InventoryRecord, WasteRecord
from spendsense.resources.prices import HOURS_PER_MONTH
from spendsense.store.models import SavingsEntry, WasteResource
from spendsense.store.models.api import InstanceView

INSTANCE = "instance"
DELETED = frozenset({"deleted", "released"})
RUNNING = frozenset({"pending", "running"})
KEY_LENGTH = 200
RDS_RESTART = timedelta(days=7)
RDS = "rds-instance"
DB_RUNNING = frozenset({"available", "starting", "backing-up", "modifying"})


def aware(at: datetime) -> datetime:
    """``at`` in UTC (a naive time is taken as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def verb(rec: ActionRecord) -> str:
    """What was done, without the resource kind a waste action is named with
    (``rds-instance:stop`` → ``stop``)."""
    prefix = f"{rec.resource_kind}:"
    return rec.action.removeprefix(prefix) if rec.resource_kind else rec.action


def saving_kind(rec: ActionRecord) -> str | None:
    """The ledger's kind of action a record opens (``stop``, ``schedule``, ``delete``), or
    None when it saves nothing (a dry run, a refusal, another action)."""
    if rec.dry_run:
        return None
    if verb(rec) == "stop" and rec.result == "stopped":
        return "schedule" if rec.actor.startswith("schedule:") else "stop"
    if rec.result in DELETED:
        return "delete"
    return None


def entry_key(rec: ActionRecord, kind: str, resource_id: str) -> str:
    """The entry's unique key: the decision key, else the audit id, else (a record from
    before either was published) the action, resource and time."""
    if rec.decision_key:
        key = rec.decision_key
    elif rec.audit_id is not None:
        key = f"audit:{rec.audit_id}"
    else:
        key = f"{rec.action}:{kind}/{resource_id}@{aware(rec.at).isoformat()}"
    return key[:KEY_LENGTH]


def _covering(
    session: Session, tenant_id: str, kind: str, resource_id: str, at: datetime
) -> SavingsEntry | None:
    """The resource's entry saving at ``at`` (at most one: entries never overlap)."""
    return session.scalars(
        select(SavingsEntry)
        .where(
            SavingsEntry.tenant_id == tenant_id,
            SavingsEntry.resource_kind == kind,
            SavingsEntry.resource_id == resource_id,
            SavingsEntry.started_at <= at,
            or_(SavingsEntry.ended_at.is_(None), SavingsEntry.ended_at > at),
        )
        .order_by(SavingsEntry.started_at.desc())
        .limit(1)
    ).first()


def _next_start(
    session: Session, tenant_id: str, kind: str, resource_id: str, at: datetime
) -> datetime | None:
    """When the resource's next entry after ``at`` starts (an action folded out of order)."""
    return session.scalar(
        select(SavingsEntry.started_at)
        .where(
            SavingsEntry.tenant_id == tenant_id,
            SavingsEntry.resource_kind == kind,
            SavingsEntry.resource_id == resource_id,
            SavingsEntry.started_at > at,
        )
        .order_by(SavingsEntry.started_at)
        .limit(1)
    )


def _end(entry: SavingsEntry | None, at: datetime, reason: str) -> bool:
    if entry is None:
        return False
    entry.ended_at = at
    entry.end_reason = reason
    return True


def _price(session: Session, rec: ActionRecord, kind: str, resource_id: str) -> float | None:
    """The record's price, else the resource's last known one (a month is 730 hours)."""
    if rec.hourly_price_usd is not None:
        return rec.hourly_price_usd
    if kind == INSTANCE:
        row = session.get(InstanceView, (rec.tenant_id, resource_id))
        return row.hourly_price_usd if row is not None else None
    waste = session.get(WasteResource, (rec.tenant_id, kind, resource_id))
    monthly = waste.monthly_price_usd if waste is not None else None
    return None if monthly is None else monthly / HOURS_PER_MONTH


def _ends_by_itself(kind: str, action_kind: str, at: datetime) -> datetime | None:
    """When AWS undoes the action on its own: a stopped database starts after 7 days."""
    return at + RDS_RESTART if kind == RDS and action_kind == "stop" else None


def fold_action(session: Session, rec: ActionRecord) -> bool:
    """Open or end an entry for an action; returns whether the ledger changed."""
    resource_id = rec.resource_id or rec.instance_id
    if resource_id is None:
        return False
    kind = rec.resource_kind or INSTANCE
    at = aware(rec.at)
    action_kind = saving_kind(rec)
    if action_kind is None:
        if verb(rec) == "start" and rec.result == "started" and not rec.dry_run:
            by = "schedule" if rec.actor.startswith("schedule:") else "a person"
            entry = _covering(session, rec.tenant_id, kind, resource_id, at)
            if entry is not None and entry.action_kind != "delete":
                return _end(entry, at, f"start by {by}")
        return False
    key = entry_key(rec, kind, resource_id)
    found = session.scalar(
        select(SavingsEntry.id).where(
            SavingsEntry.tenant_id == rec.tenant_id, SavingsEntry.entry_key == key
        )
    )
    if found is not None:
        return False
    _end(_covering(session, rec.tenant_id, kind, resource_id, at), at, "acted on again")
    later = _next_start(session, rec.tenant_id, kind, resource_id, at)
    by_itself = _ends_by_itself(kind, action_kind, at)
    if by_itself is not None and (later is None or by_itself < later):
        later, reason = by_itself, "AWS starts a stopped database after 7 days"
    else:
        reason = "" if later is None else "acted on again"
    session.add(
        SavingsEntry(
            tenant_id=rec.tenant_id,
            entry_key=key,
            resource_kind=kind,
            resource_id=resource_id,
            account_id=rec.account_id,
            action_kind=action_kind,
            actor=rec.actor,
            started_at=at,
            hourly_price_usd=_price(session, rec, kind, resource_id),
            ended_at=later,
            end_reason=reason,
        )
    )
    session.flush()
    return True


def _stopped_when_seen(
    session: Session, tenant_id: str, kind: str, resource_id: str, seen: datetime
) -> SavingsEntry | None:
    """The resource's stop entry still saving when a record seen at ``seen`` shows it
    again (after the stop; a deletion never ends by a sighting), or None."""
    entry = _covering(session, tenant_id, kind, resource_id, seen)
    if entry is None or entry.action_kind == "delete" or seen <= entry.started_at:
        return None
    return entry


def fold_inventory(session: Session, rec: InventoryRecord) -> bool:
    """End the instance's open stop entry when this record shows it running (or
    terminated) after the stop; returns whether the ledger changed."""
    if rec.state not in RUNNING and rec.state != "terminated":
        return False
    seen = aware(rec.observed_at)
    entry = _stopped_when_seen(session, rec.tenant_id, INSTANCE, rec.instance_id, seen)
    if entry is None:
        return False
    if rec.state == "terminated":
        return _end(entry, seen, "terminated")
    launched = aware(rec.launch_time)
    return _end(entry, launched if entry.started_at < launched < seen else seen, "seen running")


def fold_database(session: Session, rec: WasteRecord) -> bool:
    """End a stopped database's open entry when this record shows it running again after
    the stop (a person started it, or AWS did early); returns whether the ledger changed."""
    if rec.kind != RDS or rec.state not in DB_RUNNING:
        return False
    seen = aware(rec.observed_at)
    entry = _stopped_when_seen(session, rec.tenant_id, RDS, rec.resource_id, seen)
    return _end(entry, seen, "seen running")


def fold_ledger(session: Session, rec: object) -> bool:
    """The ledger's part of folding any record: actions, inventory and a database's waste
    record; others change nothing."""
    if isinstance(rec, ActionRecord):
        return fold_action(session, rec)
    if isinstance(rec, InventoryRecord):
        return fold_inventory(session, rec)
    if isinstance(rec, WasteRecord):
        return fold_database(session, rec)
    return False
