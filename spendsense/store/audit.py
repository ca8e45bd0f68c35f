"""The audit log: append (idempotent on ``decision_key``) and list, always per tenant.

A stream worker that replays a record after a crash appends the same decision
again; the ``decision_key`` makes the second append return the first entry
instead of writing a duplicate.

>>> from spendsense.store.engine import make_engine, session_factory
>>> from spendsense.store.migrate import ensure_schema
>>> from spendsense.store.tenants import create_tenant
>>> from spendsense.settings import StoreSettings
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> _ = ensure_schema(engine)
>>> with session_factory(engine).begin() as session:
...     _ = create_tenant(session, "Acme", tenant_id="acme")
...     first, created = append_audit(session, "acme", actor="policy", action="stop",
...                                   result="stopped", decision_key="acme/i-1/42")
...     again, created_again = append_audit(session, "acme", actor="policy", action="stop",
...                                         result="stopped", decision_key="acme/i-1/42")
...     (created, created_again, first.id == again.id, len(list_audit(session, "acme")))
(True, False, True, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spendsense.errors import SpendSenseError
from spendsense.store.models import AuditEntry, utcnow


class DecisionKeyConflict(SpendSenseError):
    """A decision key is already used by another tenant's audit entry."""


def append_audit(
    session: Session,
    tenant_id: str,
    *,
    actor: str,
    action: str,
    result: str,
    reason: str = "",
    account_id: str | None = None,
    instance_id: str | None = None,
    dry_run: bool = False,
    decision_key: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> tuple[AuditEntry, bool]:
    """Append an entry; returns ``(entry, created)``.

    With a ``decision_key`` already in this tenant's log, the earlier entry comes
    back with ``created`` False and nothing is written (safe under concurrent
    appends: the unique key decides, inside a savepoint).
    """
    if decision_key is not None:
        existing = _by_decision_key(session, tenant_id, decision_key)
        if existing is not None:
            return existing, False
    entry = AuditEntry(
        tenant_id=tenant_id,
        at=at or utcnow(),
        actor=actor,
        action=action,
        account_id=account_id,
        instance_id=instance_id,
        reason=reason,
        result=result,
        dry_run=dry_run,
        decision_key=decision_key,
        details=dict(details or {}),
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        if decision_key is None:
            raise
        existing = _by_decision_key(session, tenant_id, decision_key)
        if existing is None:
            raise DecisionKeyConflict(
                f"decision key {decision_key!r} belongs to another tenant"
            ) from None
        return existing, False
    return entry, True


def list_audit(
    session: Session,
    tenant_id: str,
    *,
    limit: int = 100,
    before_id: int | None = None,
    instance_id: str | None = None,
    account_id: str | None = None,
) -> Sequence[AuditEntry]:
    """A tenant's entries, newest first; page with ``before_id`` (the last id seen)."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if instance_id is not None:
        query = query.where(AuditEntry.instance_id == instance_id)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    return session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()


def _by_decision_key(session: Session, tenant_id: str, decision_key: str) -> AuditEntry | None:
    return session.scalar(
        select(AuditEntry).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.decision_key == decision_key
        )
    )
