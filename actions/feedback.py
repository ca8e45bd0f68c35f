"""A person's "Not idle": mark the instance, audit it, and tell the detector.

The mark (``InstanceAlertState.not_idle_at``) keeps the alerts quiet for the idle episode
the person judged; a new episode (the instance busy, then idle again) alerts again. The
:class:`~spendsense.events.FeedbackRecord` on the ``feedback`` topic is what the
detector worker applies to the instance's model, so the same pattern stops looking idle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from spendsense.errors import NotFound
from spendsense.events import FeedbackRecord
from spendsense.store import get_tenant
from spendsense.store.models import InstanceAlertState
from spendsense.topics import FEEDBACK


def not_idle(
    sessions: sessionmaker[Session],
    sink: EventSink,
    tenant_id: str,
    instance_id: str,
    actor: str,
    *,
    reason: str = "",
    decision_key: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FeedbackRecord:
    """Record that ``instance_id`` is not idle (``actor``: the person's email).

    Idempotent on ``decision_key`` (a link passes its own): a replay changes nothing and
    publishes nothing. Raises :class:`~spendsense.errors.NotFound` for an unknown tenant.
    """
    now = clock()
    feedback = FeedbackRecord(tenant_id=tenant_id, instance_id=instance_id, actor=actor, at=now)
    with sessions.begin() as session:
        if get_tenant(session, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        state = session.get(InstanceAlertState, (tenant_id, instance_id))
        if state is None:
            state = InstanceAlertState(tenant_id=tenant_id, instance_id=instance_id)
            session.add(state)
        record, created = audit(
            session,
            tenant_id,
            actor=actor,
            action="not-idle",
            result="recorded",
            reason=reason or "marked not idle",
            account_id=state.account_id,
            instance_id=instance_id,
            decision_key=decision_key,
        )
        if not created:
            return feedback  # replayed: the first call did everything
        state.not_idle_at = now
        state.not_idle_by = actor
        state.pending = False
        state.stop_after = None
    sink.send(FEEDBACK, feedback)
    publish_action(sink, record)
    return feedback
