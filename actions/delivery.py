"""Delivering a reserved outbox email through SES, and recording what became of it.

:meth:`Delivery.deliver` is called only after the row's reservation committed
(:mod:`actions.outbox`). SES accepting it makes the row ``sent``; a retryable error
(:data:`spendsense.aws.RETRYABLE_CODES`: throttling, sending quota, SES-side failures)
leaves it ``retry`` with an exponential backoff, up to :data:`MAX_ATTEMPTS`; a refusal
(unverified sender, rejected message) makes it ``failed`` and returns its instances to
pending, so the next cooldown window includes them. Every outcome but a retry lands in the
audit log and on the ``actions`` topic (:mod:`actions.audit`), counted in the metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.metrics import ActionsMetrics
from actions.registry import SendEmail
from spendsense.aws import RETRYABLE_CODES
from spendsense.events import ActionRecord
from spendsense.settings import ActionsSettings
from spendsense.store.models import AnomalyAlertState, EmailOutbox, InstanceAlertState
from spendsense.store.models.waste import WasteAlertState

log = logging.getLogger(__name__)

ALERTS_ACTOR = "alerts"
MAX_ATTEMPTS = 8


def backoff_s(attempts: int) -> int:
    """How long a retryable email waits after its ``attempts``-th failed send.

    >>> [backoff_s(n) for n in (1, 2, 3, 8)]
    [30, 60, 120, 3600]
    """
    return min(3600, 30 * 2 ** (attempts - 1))


def digest_reason(row: EmailOutbox) -> str:
    """What an email's audit entry says it was.

    >>> digest_reason(EmailOutbox(instance_ids=["i-1", "i-2"], recipient="ops@acme.test"))
    'digest of 2 idle instance(s) to ops@acme.test'
    >>> digest_reason(EmailOutbox(instance_ids=["i-1"], incident_ids=["a", "b"],
    ...                           recipient="ops@acme.test"))
    'digest of 1 idle instance(s), 2 usage anomalies, to ops@acme.test'
    """
    if not row.incident_ids:
        return f"digest of {len(row.instance_ids)} idle instance(s) to {row.recipient}"
    return (
        f"digest of {len(row.instance_ids)} idle instance(s), {len(row.incident_ids)} usage "
        f"anomalies, to {row.recipient}"
    )


@dataclass(frozen=True)
class Delivery:
    """Sends reserved outbox emails through SES and records each attempt's outcome."""

    settings: ActionsSettings
    sessions: sessionmaker[Session]
    ses: Callable[[], Any]
    sink: EventSink
    metrics: ActionsMetrics
    clock: Callable[[], datetime]

    def deliver(self, outbox_id: int) -> str:
        """Send one reserved outbox email through SES; returns its new status."""
        with self.sessions() as session:
            row = session.get(EmailOutbox, outbox_id)
            if row is None or row.status != "reserved":
                return row.status if row is not None else "missing"
            params = SendEmail.Params(
                sender=self.settings.sender,
                recipient=row.recipient,
                subject=row.subject,
                text=row.body_text,
                html=row.body_html,
                idempotency_key=row.idempotency_key,
            )
        try:
            message_id = SendEmail.run(self.ses(), params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "Unknown"))
            return self._failed_attempt(outbox_id, code, str(err.get("Message", "")))
        except BotoCoreError as exc:
            return self._failed_attempt(outbox_id, type(exc).__name__, str(exc))
        with self.sessions.begin() as session:
            row = session.get(EmailOutbox, outbox_id)
            assert row is not None
            row.status = "sent"
            row.sent_at = self.clock()
            row.attempts += 1
            row.ses_message_id = message_id
            record = self._audit_email(session, row, "sent", f"SES message {message_id}")
        publish_action(self.sink, record)
        self.metrics.alerts_sent.labels(tenant=record.tenant_id).inc()
        log.info("alert email %s sent to tenant %s", row.idempotency_key, record.tenant_id)
        return "sent"

    def _failed_attempt(self, outbox_id: int, code: str, message: str) -> str:
        with self.sessions.begin() as session:
            row = session.get(EmailOutbox, outbox_id)
            assert row is not None
            tenant_id = row.tenant_id
            row.attempts += 1
            row.error_code = code
            row.error_message = message[:2000]
            if code in RETRYABLE_CODES and row.attempts < MAX_ATTEMPTS:
                row.status = "retry"
                row.next_attempt_at = self.clock() + timedelta(seconds=backoff_s(row.attempts))
                record = None
            else:
                row.status = "failed"
                self._requeue(session, row)
                record = self._audit_email(session, row, "failed", f"SES {code}: {message}")
            status = row.status
        self.metrics.ses_errors.labels(tenant=tenant_id, code=code).inc()
        if record is not None:
            publish_action(self.sink, record)
            self.metrics.emails_failed.labels(tenant=tenant_id, status="failed").inc()
            log.error(
                "alert email to tenant %s failed for good: SES %s: %s", tenant_id, code, message
            )
        else:
            log.warning("alert email to tenant %s: SES %s, will retry", tenant_id, code)
        return status

    def _requeue(self, session: Session, row: EmailOutbox) -> None:
        """Put a failed email's instances, anomaly incidents and wasted resources back to
        pending: the next window includes them (but an incident someone called expected
        meanwhile, and a resource no longer waste)."""
        for instance_id in row.instance_ids:
            st = session.get(InstanceAlertState, (row.tenant_id, instance_id))
            if st is not None and st.idle and st.alerted_idle_since is not None:
                st.pending = True
                st.alerted_idle_since = None
        for incident_id in row.incident_ids or ():
            anomaly = session.get(AnomalyAlertState, (row.tenant_id, incident_id))
            if anomaly is not None and anomaly.expected_at is None:
                anomaly.pending = True
        for key in row.waste_keys or ():
            kind, resource_id = key.split("/", 1)
            found = session.get(WasteAlertState, (row.tenant_id, kind, resource_id))
            if found is not None and found.waste and found.alerted_since is not None:
                found.pending = True
                found.alerted_since = None

    def audit_unknown(self, outbox_id: int) -> ActionRecord:
        """Audit an email claimed ``unknown`` (sent or not, nobody knows); publish it later."""
        with self.sessions.begin() as session:
            row = session.get(EmailOutbox, outbox_id)
            assert row is not None
            return self._audit_email(
                session,
                row,
                "unknown",
                "the worker stopped while SES was being called; not resent",
            )

    def report_unknown(self, records: Sequence[ActionRecord]) -> None:
        """Publish, count and log the audited ``unknown`` emails."""
        for record in records:
            publish_action(self.sink, record)
            self.metrics.emails_failed.labels(tenant=record.tenant_id, status="unknown").inc()
            log.error("alert email for tenant %s has an unknown outcome", record.tenant_id)

    def _audit_email(
        self, session: Session, row: EmailOutbox, result: str, detail: str
    ) -> ActionRecord:
        record, _ = audit(
            session,
            row.tenant_id,
            actor=ALERTS_ACTOR,
            action="email",
            result=result,
            reason=digest_reason(row),
            decision_key=f"{row.tenant_id}/email/{row.idempotency_key}",
            details={
                "instances": list(row.instance_ids),
                "incidents": list(row.incident_ids or ()),
                "attempts": row.attempts,
                "detail": detail,
            },
        )
        return record
