"""What the actions worker remembers: alert state, cooldowns, the email outbox, used links,
stop decisions.

Everything that must hold across a worker restart or between two workers lives here, never
in a worker's memory: the per-recipient cooldown is taken with a compare-and-set update, an
email is reserved in the outbox (with a deterministic idempotency key) before SES is called,
a link id is used once, and a stop decision is recorded once under its key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.anomalies import AnomalyFacts
from spendsense.store.models.base import Base, UtcDateTime, utcnow

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


class AlertCooldown(Base):
    """When a recipient may get the next alert email; taken by compare-and-set on ``version``."""

    __tablename__ = "alert_cooldowns"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    next_allowed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=lambda: EPOCH)
    last_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)


class EmailOutbox(Base):
    """One alert email: reserved before SES is called, then sent, retried, failed or unknown.

    ``status``: ``reserved`` (committed before the SES call), ``sent``, ``retry`` (a
    retryable SES error; ``next_attempt_at`` says when), ``failed`` (SES refused it for
    good) or ``unknown`` (the worker died during the call; never resent, see
    docs/architecture.md).
    """

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    instance_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    incident_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    waste_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The wasted resources the digest names, each ``<kind>/<resource id>``."""
    status: Mapped[str] = mapped_column(String(20), default="reserved", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ses_message_id: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)


class UsedLink(Base):
    """A signed link that was used: its id can never be used again."""

    __tablename__ = "used_links"

    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(320), default="")
    used_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StopDecision(Base):
    """A decision to stop (or start) an instance, recorded once under its key before acting.

    A replay of the same key finds this row and does not act again; ``decided_at`` lets the
    executor see that a person started the instance after the decision was taken.
    """

    __tablename__ = "stop_decisions"

    decision_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str | None] = mapped_column(String(12))
    region: Mapped[str | None] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(20), default="stop")
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done
    result: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InstanceAlertState(Base):
    """The last detection of an instance and where it is in the alert cycle.

    ``pending``: idle, not yet in an email. ``alerted_idle_since``: the idle episode the
    last email covered (a new episode needs a busy period in between). ``not_idle_at``: a
    person said it is not idle; detections of an episode that began before stay quiet.
    ``stop_after``: the auto-stop grace deadline.
    """

    __tablename__ = "instance_alert_states"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(12))
    region: Mapped[str | None] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(300), default="")
    instance_type: Mapped[str] = mapped_column(String(40), default="")
    idle: Mapped[bool] = mapped_column(Boolean, default=False)
    idle_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    monthly_waste_usd: Mapped[float] = mapped_column(Float, default=0.0)
    last_detection_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    alerted_idle_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    busy_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    not_idle_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    not_idle_by: Mapped[str | None] = mapped_column(String(320))
    stop_after: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def marked_not_idle(self) -> bool:
        """Whether a person said "not idle" during the current idle episode."""
        return self.not_idle_at is not None and (
            self.idle_since is None or self.idle_since <= self.not_idle_at
        )


class AnomalyAlertState(AnomalyFacts, Base):
    """One usage anomaly incident and where it is in the alert cycle (the digest's second
    section; the same cooldown and outbox as idle instances).

    ``pending``: waiting for the next digest (an incident that ended before it keeps
    waiting: what it cost is still news). ``alerted_at``: the digest that named it.
    ``expected_at``: a person followed its "Expected" link; it never alerts again.
    """

    __tablename__ = "anomaly_alert_states"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    instance_type: Mapped[str] = mapped_column(String(40), default="")
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expected_by: Mapped[str | None] = mapped_column(String(320))
