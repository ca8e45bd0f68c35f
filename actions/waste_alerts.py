"""Which wasted resources the digest names: the actions worker's fold of the ``waste`` topic.

:func:`observe_waste` keeps each resource's :class:`WasteAlertState`: a ``waste`` record
(never a ``provisional`` one) of a finding not named before makes it ``pending``; the
digest (:mod:`actions.digest`) names the pending ones grouped by kind, under the same
cooldown and outbox as idle instances, and :func:`mark_alerted` records the finding it
named, so a resource alerts once per finding (a new finding needs it to be seen not
wasted, or gone, in between).

>>> from datetime import UTC, datetime
>>> rec = WasteRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...     kind="elastic-ip", resource_id="eipalloc-0abc", waste=True, monthly_price_usd=3.6,
...     since=datetime(2026, 11, 20, tzinfo=UTC), observed_at=datetime(2026, 11, 27, tzinfo=UTC))
>>> st = WasteAlertState(tenant_id="t1", kind="elastic-ip", resource_id="eipalloc-0abc")
>>> fold(st, rec)
'pending'
>>> mark_alerted([st], datetime(2026, 11, 27, 1, tzinfo=UTC)); st.pending
False
>>> fold(st, rec.model_copy(update={"observed_at": datetime(2026, 11, 28, tzinfo=UTC)}))
'already-alerted'
>>> fold(st, rec.model_copy(update={"provisional": True, "waste": False,
...                                 "observed_at": datetime(2026, 11, 29, tzinfo=UTC)}))
'not-waste'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from spendsense.events import WasteRecord
from spendsense.store.models import Tenant
from spendsense.store.models.waste import WasteAlertState


def fold(state: WasteAlertState, rec: WasteRecord) -> str:
    """Take one record into the state; ``pending``, ``still-pending``, ``already-alerted``,
    ``not-waste`` (provisional, fine or gone) or ``stale`` (older than what was seen)."""
    if state.observed_at is not None and rec.observed_at <= state.observed_at:
        return "stale"
    state.account_id = rec.account_id
    state.region = rec.region
    state.name = rec.name or rec.tags.get("Name", "") or state.name or ""
    state.observed_at = rec.observed_at
    if rec.gone or not rec.waste:
        state.waste = False
        state.pending = False
        state.alerted_since = None
        return "not-waste"
    state.waste = True
    state.reason = rec.reason
    state.monthly_waste_usd = rec.monthly_waste_usd
    state.since = rec.since or state.since or rec.observed_at
    if state.alerted_since is not None:  # this episode was told (a refined since is no news)
        state.pending = False
        return "already-alerted"
    verdict = "still-pending" if state.pending else "pending"
    state.pending = True
    return verdict


def observe_waste(sessions: sessionmaker[Session], rec: WasteRecord) -> str:
    """Fold ``rec`` into its resource's alert state (see :func:`fold`; ``unknown-tenant``
    when the store does not know its tenant)."""
    with sessions.begin() as session:
        if session.get(Tenant, rec.tenant_id) is None:
            return "unknown-tenant"
        state = session.get(WasteAlertState, (rec.tenant_id, rec.kind, rec.resource_id))
        if state is None:
            state = WasteAlertState(
                tenant_id=rec.tenant_id, kind=rec.kind, resource_id=rec.resource_id
            )
            session.add(state)
        return fold(state, rec)


def pending_waste(session: Session, tenant_id: str) -> list[WasteAlertState]:
    """The tenant's resources waiting for the digest, by kind, costliest first."""
    return list(
        session.scalars(
            select(WasteAlertState)
            .where(WasteAlertState.tenant_id == tenant_id, WasteAlertState.pending)
            .order_by(
                WasteAlertState.kind,
                WasteAlertState.monthly_waste_usd.desc(),
                WasteAlertState.resource_id,
            )
        )
    )


def mark_alerted(states: Sequence[WasteAlertState], now: datetime) -> None:
    """Record that a digest named ``states``' current findings."""
    for st in states:
        st.pending = False
        st.alerted_at = now
        st.alerted_since = st.since
