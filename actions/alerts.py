"""Alert emails: a digest of newly idle instances and usage anomalies per recipient, at most
one per cooldown.

How a detection becomes (at most) one email, with every step's state in the store so it
holds across restarts and between workers:

1. :meth:`AlertService.observe` updates the instance's :class:`InstanceAlertState`. An
   idle instance becomes ``pending`` unless its current idle episode was already in an
   email (it must be seen busy in between) or a person said it is not idle.
2. :meth:`AlertService.flush` reserves the tenant's digest (rendered by
   :mod:`actions.digest`) in the outbox (:mod:`actions.outbox`): each recipient's cooldown
   taken by compare-and-set (of two workers, one wins), an outbox row under a deterministic
   idempotency key (tenant, recipient, cooldown version; unique) and the pending instances
   marked alerted, in one transaction. Usage anomalies take the same path:
   :meth:`AlertService.observe_anomaly` makes each new incident ``pending`` (an
   :class:`AnomalyAlertState`), and the digest shows them in a section of their own.
3. Only after that commit, :mod:`actions.delivery` calls SES, then records ``sent``.
   Retryable SES errors (throttling, sending quota) leave the row ``retry`` for the timer;
   a refusal (unverified sender) marks it ``failed`` and returns its instances to pending.
4. :meth:`AlertService.reconcile` turns rows left ``reserved`` past the lease (the worker
   died during the SES call) into ``unknown``, recorded and counted, never resent: a kill
   at any moment never sends a duplicate (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink
from actions.delivery import Delivery
from actions.digest import Digest, tenant_digest
from actions.metrics import ActionsMetrics
from actions.outbox import FlushResult, Outbox
from spendsense.events import AnomalyRecord, DetectionRecord
from spendsense.settings import ActionsSettings
from spendsense.store.models import AnomalyAlertState, InstanceAlertState, Tenant
from spendsense.store.models.waste import WasteAlertState

PENDING = frozenset({"pending", "still-pending"})


class AlertService:
    """Turns detections into digest emails; every step is recorded in the store."""

    def __init__(
        self,
        settings: ActionsSettings,
        sessions: sessionmaker[Session],
        ses: Callable[[], Any],
        key: bytes,
        sink: EventSink,
        metrics: ActionsMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.key = key
        self.metrics = metrics
        self.outbox = Outbox(settings, sessions, clock)
        self.delivery = Delivery(settings, sessions, ses, sink, metrics, clock)
        # what else hears of a reserved digest (the notification channels); set by the runtime
        self.after_flush: Callable[[str, FlushResult], object] | None = None

    # -- 1. detections ----------------------------------------------------------------

    def observe(self, det: DetectionRecord) -> str:
        """Fold one detection into the instance's state; returns what it meant.

        ``pending`` (newly waiting for an email), ``still-pending``, ``busy``,
        ``already-alerted``, ``not-idle`` (a person said so), ``stale`` (older than what
        was seen) or ``unknown-tenant``. A new idle episode that a person's "not idle"
        silences counts as a suppressed alert; so does (in the runtime) a newly pending
        instance whose email the cooldown holds back.
        """
        with self.sessions.begin() as session:
            if session.get(Tenant, det.tenant_id) is None:
                return "unknown-tenant"
            state = session.get(InstanceAlertState, (det.tenant_id, det.instance_id))
            if state is None:
                state = InstanceAlertState(tenant_id=det.tenant_id, instance_id=det.instance_id)
                session.add(state)
            elif state.last_detection_at is not None and det.timestamp <= state.last_detection_at:
                return "stale"
            state.account_id = det.account_id
            state.region = det.region
            state.name = det.name or state.name or ""
            state.instance_type = det.instance_type or state.instance_type or ""
            state.last_detection_at = det.timestamp
            if not det.idle:
                if state.idle or state.busy_since is None:
                    state.busy_since = det.timestamp
                state.idle = False
                state.pending = False
                state.alerted_idle_since = None
                return "busy"
            new_episode = not state.idle
            was_pending = state.pending
            if new_episode:
                state.idle_since = det.idle_since or det.timestamp
            elif det.idle_since is not None:
                state.idle_since = det.idle_since
            state.idle = True
            state.reason = det.reason
            state.monthly_waste_usd = det.monthly_waste_usd
            verdict = "still-pending" if was_pending else "pending"
            if state.marked_not_idle:
                verdict = "not-idle"
            elif state.alerted_idle_since is not None:
                verdict = "already-alerted"
            state.pending = verdict in PENDING
        if verdict == "not-idle" and new_episode:
            self.metrics.alerts_suppressed.labels(tenant=det.tenant_id, reason=verdict).inc()
        return verdict

    def observe_anomaly(self, rec: AnomalyRecord) -> str:
        """Fold one anomaly record into its incident's state; returns what it meant.

        ``pending`` (a new incident, waiting for the digest), ``closed`` (the incident
        ended: its end and most extreme value are kept, it stays in the digest if not sent
        yet), ``stale`` (a replay of what was seen) or ``unknown-tenant``. An incident
        first seen by its ``closed`` record (the worker started after it opened) is pending
        like a new one. Whether it alerts is the tenant's setting, applied as the digest is
        built (:meth:`~actions.outbox.Outbox.reserve`).
        """
        with self.sessions.begin() as session:
            if session.get(Tenant, rec.tenant_id) is None:
                return "unknown-tenant"
            state = session.get(AnomalyAlertState, (rec.tenant_id, rec.incident_id))
            if state is not None and (rec.status == "open" or state.ended_at is not None):
                return "stale"
            verdict = "pending" if state is None else "closed"
            if state is None:
                state = AnomalyAlertState(
                    tenant_id=rec.tenant_id, incident_id=rec.incident_id, pending=True
                )
                session.add(state)
            state.take_facts(rec)
            state.name = rec.name or state.name or ""
            state.instance_type = rec.instance_type or state.instance_type or ""
        return verdict

    # -- 2. reserving an email, 3. sending it ------------------------------------------

    def flush(self, tenant_id: str) -> FlushResult:
        """Reserve this tenant's digest for every recipient whose cooldown allows, then send."""
        flushed = self.outbox.reserve(tenant_id, self._digest)
        for outbox_id in flushed.reserved:
            self.delivery.deliver(outbox_id)
        if flushed.reserved and self.after_flush is not None:
            self.after_flush(tenant_id, flushed)
        return flushed

    def _digest(
        self,
        tenant: Tenant,
        states: Sequence[InstanceAlertState],
        anomalies: Sequence[AnomalyAlertState],
        now: datetime,
        waste: Sequence[WasteAlertState],
    ) -> Digest:
        return tenant_digest(self.settings, self.key, tenant, states, anomalies, now, waste)

    def deliver(self, outbox_id: int) -> str:
        """Send one reserved outbox email through SES; returns its new status."""
        return self.delivery.deliver(outbox_id)

    # -- 4. the timer: due retries, pending digests, rows left behind -----------------

    def retry_due(self) -> list[str]:
        """Send every outbox email whose retry time came; returns their new statuses.

        Each row is claimed first (``retry`` back to ``reserved``, by compare-and-set), so
        of two workers' timers only one sends it, and a kill during the send leaves it to
        :meth:`reconcile` like any reserved email.
        """
        return [self.delivery.deliver(i) for i in self.outbox.claim_due_retries()]

    def pending_tenants(self) -> list[str]:
        """Tenants with instances, anomaly incidents or wasted resources waiting for an email."""
        waiting = union(
            select(InstanceAlertState.tenant_id).where(InstanceAlertState.pending),
            select(AnomalyAlertState.tenant_id).where(AnomalyAlertState.pending),
            select(WasteAlertState.tenant_id).where(WasteAlertState.pending),
        ).subquery()
        with self.sessions() as session:
            return sorted(session.scalars(select(waiting.c.tenant_id)).all())

    def reconcile(self) -> int:
        """Mark emails left ``reserved`` past the lease as ``unknown`` (never resent)."""
        records = []
        for outbox_id in self.outbox.left_behind():
            if not self.outbox.claim(outbox_id, "reserved", "unknown"):
                continue  # another worker reconciled it
            records.append(self.delivery.audit_unknown(outbox_id))
        self.delivery.report_unknown(records)
        return len(records)

    def tick(self) -> None:
        """One timer round: reconcile, retry what is due, flush tenants with pending alerts."""
        self.reconcile()
        self.retry_due()
        for tenant_id in self.pending_tenants():
            self.flush(tenant_id)
