"""Alert emails: a digest of newly idle instances per recipient, at most one per cooldown.

How a detection becomes (at most) one email, with every step's state in the store so it
holds across restarts and between workers:

1. :meth:`AlertService.observe` updates the instance's :class:`InstanceAlertState`. An
   idle instance becomes ``pending`` unless its current idle episode was already in an
   email (it must be seen busy in between) or a person said it is not idle.
2. :meth:`AlertService.flush` takes each recipient's cooldown by compare-and-set
   (``UPDATE ... WHERE next_allowed_at <= now``: of two workers, one wins), and in the
   same transaction reserves an outbox row under a deterministic idempotency key (tenant,
   recipient, cooldown version; unique) and marks the pending instances alerted.
3. Only after that commit, :meth:`AlertService.deliver` calls SES, then records ``sent``.
   Retryable SES errors (throttling, sending quota) leave the row ``retry`` for the timer;
   a refusal (unverified sender) marks it ``failed`` and returns its instances to pending.
4. :meth:`AlertService.reconcile` turns rows left ``reserved`` past the lease (the worker
   died during the SES call) into ``unknown``, recorded and counted, never resent: a kill
   at any moment never sends a duplicate (see docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.links import detail_url, link_url, sign
from actions.metrics import ActionsMetrics
from actions.registry import SendEmail
from spendsense.events import ActionRecord, DetectionRecord
from spendsense.settings import ActionsSettings
from spendsense.store import get_tenant, list_users
from spendsense.store.models import (
    AlertCooldown,
    EmailOutbox,
    InstanceAlertState,
    Tenant,
)
from spendsense.store.models.actions import EPOCH

log = logging.getLogger(__name__)

ALERTS_ACTOR = "alerts"
RETRYABLE_SES_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceeded",
        "LimitExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "RequestTimeout",
    }
)
MAX_ATTEMPTS = 8
IN_FLIGHT = ("reserved", "retry")
PENDING = frozenset({"pending", "still-pending"})

_templates = Environment(
    loader=PackageLoader("actions", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class DigestItem:
    """One instance as the digest shows it."""

    instance_id: str
    name: str
    region: str
    instance_type: str
    idle_since: str
    reason: str
    monthly_waste_usd: float
    stop_url: str
    not_idle_url: str
    detail_url: str
    grace: str = ""


@dataclass(frozen=True)
class Digest:
    """A rendered email: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def render_digest(
    tenant_name: str, items: Sequence[DigestItem], *, expires_at: str, cooldown: str
) -> Digest:
    """Render the digest email from the package's templates.

    >>> item = DigestItem("i-0abc1234", "build-box", "eu-west-1", "m5.large",
    ...                   "2026-11-25 08:00 UTC", "CPU under 1% for 2 days", 69.12,
    ...                   "https://x/links/s", "https://x/links/n", "https://x/instances/i-0abc1234")
    >>> d = render_digest("Acme", [item], expires_at="2026-11-28 08:00 UTC", cooldown="1 hour")
    >>> d.subject
    'SpendSense: 1 idle EC2 instance, about $69/month'
    >>> "https://x/links/s" in d.text and "https://x/links/n" in d.html
    True
    >>> "https://x/instances/i-0abc1234" in d.text and "https://x/instances/i-0abc1234" in d.html
    True
    """
    total = sum(i.monthly_waste_usd for i in items)
    plural = "s" if len(items) != 1 else ""
    subject = f"SpendSense: {len(items)} idle EC2 instance{plural}, about ${total:,.0f}/month"
    ctx: dict[str, Any] = {
        "subject": subject,
        "tenant_name": tenant_name,
        "items": items,
        "total_waste": total,
        "expires_at": expires_at,
        "cooldown": cooldown,
    }
    return Digest(
        subject=subject,
        text=_templates.get_template("digest.txt.j2").render(ctx),
        html=_templates.get_template("digest.html.j2").render(ctx),
    )


def idempotency_key(tenant_id: str, recipient: str, window: int) -> str:
    """The outbox key of one recipient's email in one cooldown window (its CAS version).

    >>> idempotency_key("acme", "ops@acme.test", 3) == idempotency_key("acme", "ops@acme.test", 3)
    True
    """
    return hashlib.sha256(f"{tenant_id}\n{recipient}\n{window}".encode()).hexdigest()[:40]


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "unknown"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True)
class FlushResult:
    """What one flush did: outbox rows reserved, and why nothing was when nothing was."""

    reserved: tuple[int, ...] = ()
    suppressed: str | None = None


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
        self.ses = ses
        self.key = key
        self.sink = sink
        self.metrics = metrics
        self.clock = clock

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

    # -- 2. reserving an email --------------------------------------------------------

    def recipients(self, session: Session, tenant: Tenant) -> list[str]:
        """The tenant's confirmed alert address, else every user's (confirmed at sign-up).

        ``alert_email`` holds only a confirmed address: one set on the settings page waits
        in ``alert_email_pending`` until its mailed link is used, and never gets a digest.
        """
        if tenant.alert_email:
            return [tenant.alert_email.strip().lower()]
        return sorted({u.email for u in list_users(session, tenant.id)})

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

    def _items(self, tenant: Tenant, states: Sequence[InstanceAlertState]) -> list[DigestItem]:
        now = self.clock()
        items = []
        for st in states:
            links = {
                action: link_url(
                    self.settings.public_base_url,
                    sign(
                        self.key,
                        st.tenant_id,
                        st.instance_id,
                        action,
                        ttl_s=self.settings.link_ttl_s,
                        account_id=st.account_id,
                        region=st.region,
                        now=now,
                    ),
                )
                for action in ("stop", "not-idle")
            }
            grace = ""
            if st.stop_after is not None and tenant.autostop_enabled:
                grace = f"will be stopped after {_when(st.stop_after)} if still idle"
                if tenant.autostop_dry_run:
                    grace += " (dry run: SpendSense will only log it)"
            items.append(
                DigestItem(
                    instance_id=st.instance_id,
                    name=st.name,
                    region=st.region or "",
                    instance_type=st.instance_type,
                    idle_since=_when(st.idle_since),
                    reason=st.reason,
                    monthly_waste_usd=st.monthly_waste_usd,
                    stop_url=links["stop"],
                    not_idle_url=links["not-idle"],
                    detail_url=detail_url(self.settings.public_base_url, st.instance_id),
                    grace=grace,
                )
            )
        return items

    def flush(self, tenant_id: str) -> FlushResult:
        """Reserve this tenant's digest for every recipient whose cooldown allows, then send."""
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
            if not states:
                return FlushResult(suppressed="nothing-pending")
            recipients = self.recipients(session, tenant)
            if not recipients:
                log.warning("tenant %s has idle instances but no alert address", tenant_id)
                return FlushResult(suppressed="no-recipient")
            windows = {r: self._take_cooldown(session, tenant_id, r) for r in recipients}
            winners = {r: w for r, w in windows.items() if w is not None}
            if not winners:
                return FlushResult(suppressed="cooldown")
            now = self.clock()
            digest = render_digest(
                tenant.name,
                self._items(tenant, states),
                expires_at=_when(now + timedelta(seconds=self.settings.link_ttl_s)),
                cooldown=_duration(self.settings.cooldown_s),
            )
            rows = [
                EmailOutbox(
                    idempotency_key=idempotency_key(tenant_id, recipient, window),
                    tenant_id=tenant_id,
                    recipient=recipient,
                    subject=digest.subject,
                    body_text=digest.text,
                    body_html=digest.html,
                    instance_ids=[s.instance_id for s in states],
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
            session.flush()
            reserved = tuple(r.id for r in rows)
        for outbox_id in reserved:
            self.deliver(outbox_id)
        return FlushResult(reserved=reserved)

    # -- 3. sending -------------------------------------------------------------------

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
            if code in RETRYABLE_SES_CODES and row.attempts < MAX_ATTEMPTS:
                row.status = "retry"
                backoff = min(3600, 30 * 2 ** (row.attempts - 1))
                row.next_attempt_at = self.clock() + timedelta(seconds=backoff)
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
        """Put a failed email's instances back to pending: the next window includes them."""
        for instance_id in row.instance_ids:
            st = session.get(InstanceAlertState, (row.tenant_id, instance_id))
            if st is not None and st.idle and st.alerted_idle_since is not None:
                st.pending = True
                st.alerted_idle_since = None

    def _audit_email(
        self, session: Session, row: EmailOutbox, result: str, detail: str
    ) -> ActionRecord:
        record, _ = audit(
            session,
            row.tenant_id,
            actor=ALERTS_ACTOR,
            action="email",
            result=result,
            reason=f"digest of {len(row.instance_ids)} idle instance(s) to {row.recipient}",
            decision_key=f"{row.tenant_id}/email/{row.idempotency_key}",
            details={
                "instances": list(row.instance_ids),
                "attempts": row.attempts,
                "detail": detail,
            },
        )
        return record

    # -- 4. the timer: due retries, pending digests, rows left behind -----------------

    def retry_due(self) -> list[str]:
        """Send every outbox email whose retry time came; returns their new statuses.

        Each row is claimed first (``retry`` back to ``reserved``, by compare-and-set), so
        of two workers' timers only one sends it, and a kill during the send leaves it to
        :meth:`reconcile` like any reserved email.
        """
        now = self.clock()
        with self.sessions() as session:
            due = session.scalars(
                select(EmailOutbox.id).where(
                    EmailOutbox.status == "retry", EmailOutbox.next_attempt_at <= now
                )
            ).all()
        claimed = [i for i in due if self._claim(i, "retry", "reserved", reserved_at=now)]
        return [self.deliver(i) for i in claimed]

    def _claim(self, outbox_id: int, old: str, new: str, **values: Any) -> bool:
        """Move one outbox row from ``old`` to ``new`` status unless someone did first."""
        with self.sessions.begin() as session:
            done = session.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id == outbox_id, EmailOutbox.status == old)
                .values(status=new, **values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(done, "rowcount", 0))

    def pending_tenants(self) -> list[str]:
        """Tenants with instances waiting for an email."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(InstanceAlertState.tenant_id)
                    .where(InstanceAlertState.pending)
                    .distinct()
                    .order_by(InstanceAlertState.tenant_id)
                ).all()
            )

    def reconcile(self) -> int:
        """Mark emails left ``reserved`` past the lease as ``unknown`` (never resent)."""
        cutoff = self.clock() - timedelta(seconds=self.settings.email_lease_s)
        with self.sessions() as session:
            stale = session.scalars(
                select(EmailOutbox.id).where(
                    EmailOutbox.status == "reserved", EmailOutbox.reserved_at < cutoff
                )
            ).all()
        records = []
        for outbox_id in stale:
            if not self._claim(outbox_id, "reserved", "unknown"):
                continue  # another worker reconciled it
            with self.sessions.begin() as session:
                row = session.get(EmailOutbox, outbox_id)
                assert row is not None
                records.append(
                    self._audit_email(
                        session,
                        row,
                        "unknown",
                        "the worker stopped while SES was being called; not resent",
                    )
                )
        for record in records:
            publish_action(self.sink, record)
            self.metrics.emails_failed.labels(tenant=record.tenant_id, status="unknown").inc()
            log.error("alert email for tenant %s has an unknown outcome", record.tenant_id)
        return len(records)

    def tick(self) -> None:
        """One timer round: reconcile, retry what is due, flush tenants with pending alerts."""
        self.reconcile()
        self.retry_due()
        for tenant_id in self.pending_tenants():
            self.flush(tenant_id)
