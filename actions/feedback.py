"""A person's word, as feedback: "Not idle" on an instance and "Expected" on a usage anomaly.
Each marks the store, audits it, and tells the detector.

The mark (``InstanceAlertState.not_idle_at``) keeps the alerts quiet for the idle episode
the person judged; a new episode (the instance busy, then idle again) alerts again. The
:class:`~spendsense.events.FeedbackRecord` on the ``feedback`` topic is what the
detector worker applies to the instance's model, so the same pattern stops looking idle.

"Expected" (:func:`anomaly_expected`) marks the incident's alert state (it never alerts
again) and publishes a ``FeedbackRecord(verdict="anomaly-expected")`` naming the incident
and its metric: the detector learns the new level as normal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from spendsense.errors import NotFound
from spendsense.events import AnomalyMetric, FeedbackRecord
from spendsense.store import get_tenant
from spendsense.store.models import AnomalyAlertState, InstanceAlertState
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

    def mark(session: Session) -> tuple[str | None, Callable[[], None]]:
        state = session.get(InstanceAlertState, (tenant_id, instance_id))
        if state is None:
            state = InstanceAlertState(tenant_id=tenant_id, instance_id=instance_id)
            session.add(state)

        def quiet() -> None:
            state.not_idle_at = now
            state.not_idle_by = actor
            state.pending = False
            state.stop_after = None

        return state.account_id, quiet

    return _record(
        sessions,
        sink,
        feedback,
        mark,
        action="not-idle",
        reason=reason or "marked not idle",
        decision_key=decision_key,
    )


def anomaly_expected(
    sessions: sessionmaker[Session],
    sink: EventSink,
    tenant_id: str,
    instance_id: str,
    incident_id: str,
    metric: AnomalyMetric,
    actor: str,
    *,
    decision_key: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FeedbackRecord:
    """Record that the anomaly ``incident_id`` of ``instance_id`` was expected (``actor``:
    who said so) and tell the detector to learn the new level of ``metric`` as normal.

    Idempotent on ``decision_key`` as :func:`not_idle` is. Raises
    :class:`~spendsense.errors.NotFound` for an unknown tenant.
    """
    now = clock()
    feedback = FeedbackRecord(
        tenant_id=tenant_id,
        instance_id=instance_id,
        verdict="anomaly-expected",
        incident_id=incident_id,
        metric=metric,
        actor=actor,
        at=now,
    )

    def mark(session: Session) -> tuple[str | None, Callable[[], None]]:
        state = session.get(AnomalyAlertState, (tenant_id, incident_id))

        def expected() -> None:
            if state is not None:
                state.expected_at = now
                state.expected_by = actor
                state.pending = False

        return (state.account_id if state is not None else None), expected

    return _record(
        sessions,
        sink,
        feedback,
        mark,
        action="anomaly-expected",
        reason=f"{metric} change marked expected",
        decision_key=decision_key,
        details={"incident_id": incident_id, "metric": metric},
    )


def _record(
    sessions: sessionmaker[Session],
    sink: EventSink,
    feedback: FeedbackRecord,
    mark: Callable[[Session], tuple[str | None, Callable[[], None]]],
    **entry: Any,
) -> FeedbackRecord:
    """Audit a person's word and change the store with ``mark`` (which finds the account id
    for the audit and returns the change), in one transaction; once it committed, publish
    ``feedback`` on ``feedback`` and the audit entry on ``actions``. A replayed
    ``decision_key`` changes and publishes nothing."""
    with sessions.begin() as session:
        if get_tenant(session, feedback.tenant_id) is None:
            raise NotFound(f"no tenant {feedback.tenant_id}")
        account_id, change = mark(session)
        record, created = audit(
            session,
            feedback.tenant_id,
            actor=feedback.actor,
            result="recorded",
            account_id=account_id,
            instance_id=feedback.instance_id,
            **entry,
        )
        if not created:
            return feedback  # replayed: the first call did everything
        change()
    sink.send(FEEDBACK, feedback)
    publish_action(sink, record)
    return feedback
