"""Who uses SpendSense and which AWS accounts they connected: users, tenants, accounts, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow


class Tenant(Base):
    """A customer organisation: owns users and AWS accounts; every query is scoped by it."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Where alert digests go: only ever an address confirmed by a mailed link (or the
    # sign-up's own); a new one waits in alert_email_pending until its link is used.
    alert_email: Mapped[str | None] = mapped_column(String(320))
    alert_email_pending: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Auto-stop policy: off and dry-run by default (see actions/).
    autostop_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    autostop_scope: Mapped[str] = mapped_column(String(10), default="tag")  # "tag" | "all"
    autostop_dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    autostop_grace_minutes: Mapped[int] = mapped_column(Integer, default=60)
    autostop_max_per_hour: Mapped[int] = mapped_column(Integer, default=5)
    # Waste policy (actions.waste_policy): off and dry-run by default; only the actions a
    # policy may run (a volume's snapshot-then-delete, a database's stop).
    waste_policy_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    waste_policy_dry_run: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    waste_policy_max_per_hour: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # Ceilings of rest for the idle model (spendsense.ceilings): NULL keeps the default.
    ceiling_cpu_percent: Mapped[float | None] = mapped_column(Float)
    ceiling_network_bps: Mapped[float | None] = mapped_column(Float)
    # Which usage anomalies alert (actions.anomaly_alerts): "all", "priced" (those with a
    # dollar rate above anomaly_alert_min_usd_per_hour; the default, at $0: every anomaly
    # with a direct cost) or "none".
    anomaly_alerts: Mapped[str] = mapped_column(
        String(10), default="priced", server_default="priced"
    )
    anomaly_alert_min_usd_per_hour: Mapped[float] = mapped_column(
        Float, default=0.0, server_default="0"
    )


class User(Base):
    """A person who logs in; belongs to one tenant."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # What the person may do (api.deps ROLES): "viewer" < "operator" < "admin".
    role: Mapped[str] = mapped_column(String(10), default="viewer", server_default="viewer")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AwsAccount(Base):
    """A customer AWS account reached through a role that trusts SpendSense with an ExternalId."""

    __tablename__ = "aws_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(12))
    role_arn: Mapped[str | None] = mapped_column(String(2048))
    external_id: Mapped[str] = mapped_column(String(1224), unique=True)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | ok | error
    status_code: Mapped[str | None] = mapped_column(String(100))
    status_message: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Failed attempts to reach the account in a row, and when the collector tries again
    # (None: at its next cycle); see ingest.runner.retry_delay.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One thing SpendSense did or decided: who (person or policy), what, when, why, result."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str | None] = mapped_column(String(12))
    instance_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(String(40))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # An idempotency key: the same decision replayed finds its earlier entry.
    decision_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
