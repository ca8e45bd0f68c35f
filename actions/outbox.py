"""The email outbox's state machine: each digest email is a row, reserved before it is sent.

A row's life (``EmailOutbox.status``)::

    reserved --SES accepted--> sent
    reserved --retryable SES error--> retry --due, claimed by one timer--> reserved
    reserved --SES refused, or out of attempts--> failed
    reserved --left past the lease (the worker died during the SES call)--> unknown

:meth:`Outbox.reserve` takes each recipient's cooldown by compare-and-set (``UPDATE ...
WHERE next_allowed_at <= now``: of two workers, one wins) and, in the same transaction,
adds a ``reserved`` row under a deterministic :func:`idempotency_key` (tenant, recipient,
cooldown version; unique) and marks the pending instances and anomaly incidents alerted
(anomalies the tenant's setting does not alert on, :mod:`actions.anomaly_alerts`, are
dropped from the wait there, as the digest is built). Every other move is
:meth:`Outbox.claim` (compare-and-set on the status), so two workers never both move a row.
Sending and recording what SES answered is :mod:`actions.delivery`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from actions.anomaly_alerts import alerts
from actions.digest import Digest
from actions.waste_alerts import mark_alerted, pending_waste
from spendsense.settings import ActionsSettings
from spendsense.store import get_tenant, list_users
from spendsense.store.models import (
    AlertCooldown,
    AnomalyAlertState,
    EmailOutbox,
    InstanceAlertState,
    Tenant,
)
from spendsense.store.models.actions import EPOCH
from spendsense.store.models.waste import WasteAlertState

log = logging.getLogger(__name__)

IN_FLIGHT = ("reserved", "retry")

Compose = Callable[
    [
        Tenant,
        Sequence[InstanceAlertState],
        Sequence[AnomalyAlertState],
        datetime,
        Sequence[WasteAlertState],
    ],
    Digest,
]
"""Renders the digest of a tenant's pending instances, anomalies and wasted resources at a
moment (:func:`~actions.digest.tenant_digest`)."""


def idempotency_key(tenant_id: str, recipient: str, window: int) -> str:
    """The outbox key of one recipient's email in one cooldown window (its CAS version).

    >>> idempotency_key("acme", "ops@acme.test", 3) == idempotency_key("acme", "ops@acme.test", 3)
    True
    """
    return hashlib.sha256(f"{tenant_id}\n{recipient}\n{window}".encode()).hexdigest()[:40]


def recipients(session: Session, tenant: Tenant) -> list[str]:
    """The tenant's confirmed alert address, else every user's (confirmed at sign-up).

    ``alert_email`` holds only a confirmed address: one set on the settings page waits
    in ``alert_email_pending`` until its mailed link is used, and never gets a digest.
    """
    if tenant.alert_email:
        return [tenant.alert_email.strip().lower()]
    return sorted({u.email for u in list_users(session, tenant.id)})


@dataclass(frozen=True)
class FlushResult:
    """What one flush did: outbox rows reserved, and why nothing was when nothing was."""

    reserved: tuple[int, ...] = ()
    suppressed: str | None = None


@dataclass(frozen=True)
class Outbox:
    """Reserves, claims and abandons :class:`EmailOutbox` rows; every move is one transaction."""

    settings: ActionsSettings
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]

    # -- reserving ----------------------------------------------------------------------

    def reserve(self, tenant_id: str, compose: Compose) -> FlushResult:
        """Reserve the tenant's digest (``compose``) for every recipient whose cooldown allows."""
        with self.sessions.begin() as session:
            self._serialise(session, tenant_id)
            tenant = get_tenant(session, tenant_id)
            if tenant is None:
                return FlushResult(suppressed="unknown-tenant")
            states = session.scalars(
                select(InstanceAlertState)
                .where(InstanceAlertState.tenant_id == tenant_id, InstanceAlertState.pending)
                .order_by(
                    InstanceAlertState.monthly_waste_usd.desc(), InstanceAlertState.instance_id
                )
            ).all()
            anomalies = self._alerting_anomalies(session, tenant)
            waste = pending_waste(session, tenant_id)
            if not states and not anomalies and not waste:
                return FlushResult(suppressed="nothing-pending")
            to = recipients(session, tenant)
            if not to:
                log.warning("tenant %s has idle instances but no alert address", tenant_id)
                return FlushResult(suppressed="no-recipient")
            windows = {r: self._take_cooldown(session, tenant_id, r) for r in to}
            winners = {r: w for r, w in windows.items() if w is not None}
            if not winners:
                return FlushResult(suppressed="cooldown")
            now = self.clock()
            digest = compose(tenant, states, anomalies, now, waste)
            # the idle instances only: a refused email puts exactly these back to pending, and an
            # instance named for an anomaly alone may have had its idle alert already
            instance_ids = [s.instance_id for s in states]
            rows = [
                EmailOutbox(
                    idempotency_key=idempotency_key(tenant_id, recipient, window),
                    tenant_id=tenant_id,
                    recipient=recipient,
                    subject=digest.subject,
                    body_text=digest.text,
                    body_html=digest.html,
                    instance_ids=instance_ids,
                    incident_ids=[a.incident_id for a in anomalies],
                    waste_keys=[f"{w.kind}/{w.resource_id}" for w in waste],
                    status="reserved",
                    reserved_at=now,
                )
                for recipient, window in sorted(winners.items())
            ]
            session.add_all(rows)
            for st in states:
                st.pending = False
                st.alerted_at = now
                st.alerted_idle_since = st.idle_since
            for a in anomalies:
                a.pending = False
                a.alerted_at = now
            mark_alerted(waste, now)
            session.flush()
            return FlushResult(reserved=tuple(r.id for r in rows))

    def _alerting_anomalies(self, session: Session, tenant: Tenant) -> list[AnomalyAlertState]:
        """The tenant's pending anomaly incidents its setting alerts on, costliest first;
        the others stop waiting (they stay on the instance page)."""
        pending = session.scalars(
            select(AnomalyAlertState)
            .where(AnomalyAlertState.tenant_id == tenant.id, AnomalyAlertState.pending)
            .order_by(AnomalyAlertState.since, AnomalyAlertState.incident_id)
        ).all()
        chosen = []
        for a in pending:
            if alerts(
                tenant.anomaly_alerts, tenant.anomaly_alert_min_usd_per_hour, a.dollars_per_hour
            ):
                chosen.append(a)
            else:
                a.pending = False
        return sorted(chosen, key=lambda a: -(a.dollars_per_hour or 0.0))

    def _serialise(self, session: Session, tenant_id: str) -> None:
        """Begin the flush with a write, so flushes of one tenant queue up behind each other.

        On PostgreSQL it locks the tenant's cooldown rows; on SQLite it takes the write
        lock before anything is read (a read first would make the later write fail with
        "database is locked" when another worker wrote in between).
        """
        session.execute(
            update(AlertCooldown)
            .where(AlertCooldown.tenant_id == tenant_id)
            .values(version=AlertCooldown.version)
            .execution_options(synchronize_session=False)
        )

    def _take_cooldown(self, session: Session, tenant_id: str, recipient: str) -> int | None:
        """Compare-and-set the recipient's cooldown; the new version, or None if held."""
        now = self.clock()
        try:
            with session.begin_nested():
                if session.get(AlertCooldown, (tenant_id, recipient)) is None:
                    session.add(
                        AlertCooldown(
                            tenant_id=tenant_id,
                            recipient=recipient,
                            next_allowed_at=EPOCH,
                            version=0,
                        )
                    )
                    session.flush()
        except IntegrityError:
            pass  # another worker created it first
        busy = session.scalar(
            select(EmailOutbox.id).where(
                EmailOutbox.tenant_id == tenant_id,
                EmailOutbox.recipient == recipient,
                EmailOutbox.status.in_(IN_FLIGHT),
            )
        )
        if busy is not None:
            return None
        won = session.execute(
            update(AlertCooldown)
            .where(
                AlertCooldown.tenant_id == tenant_id,
                AlertCooldown.recipient == recipient,
                AlertCooldown.next_allowed_at <= now,
            )
            .values(
                next_allowed_at=now + timedelta(seconds=self.settings.cooldown_s),
                last_sent_at=now,
                version=AlertCooldown.version + 1,
            )
            .returning(AlertCooldown.version)
            .execution_options(synchronize_session=False)
        ).all()
        return int(won[0][0]) if won else None

    # -- claiming -----------------------------------------------------------------------

    def claim(self, outbox_id: int, old: str, new: str, **values: Any) -> bool:
        """Move one outbox row from ``old`` to ``new`` status unless someone did first."""
        with self.sessions.begin() as session:
            done = session.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id == outbox_id, EmailOutbox.status == old)
                .values(status=new, **values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(done, "rowcount", 0))

    def claim_due_retries(self) -> list[int]:
        """Claim every ``retry`` row whose time came (back to ``reserved``); their ids.

        Of two workers' timers only one claims a row, and a kill during its send leaves it
        to :meth:`left_behind` like any reserved email.
        """
        now = self.clock()
        with self.sessions() as session:
            due = session.scalars(
                select(EmailOutbox.id).where(
                    EmailOutbox.status == "retry", EmailOutbox.next_attempt_at <= now
                )
            ).all()
        return [i for i in due if self.claim(i, "retry", "reserved", reserved_at=now)]

    def left_behind(self) -> list[int]:
        """Rows left ``reserved`` past the lease: the worker died during the SES call.

        The caller claims each to ``unknown`` (never resent) and records it.
        """
        cutoff = self.clock() - timedelta(seconds=self.settings.email_lease_s)
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(EmailOutbox.id).where(
                        EmailOutbox.status == "reserved", EmailOutbox.reserved_at < cutoff
                    )
                ).all()
            )
