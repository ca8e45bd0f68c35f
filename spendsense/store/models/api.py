"""What the API keeps: log-in sessions, mailed tokens, attempt counters, and the instances
projection.

``instances`` is a read model: the projector (``spendsense project``) folds the
``inventory``, ``detections`` and ``actions`` topics into one row per instance so the
dashboard reads one indexed table instead of the stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow


class LoginSession(Base):
    """A server-side log-in session; the cookie holds a random token, the row its keyed hash."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class EmailToken(Base):
    """A single-use link mailed to an address: confirm a sign-up, reset a password, or
    confirm a tenant's new alert address (``purpose``).

    The row keeps the keyed hash of the token, never the token. A pending sign-up keeps
    its argon2 password hash and organisation here, so no user exists (and no address is
    taken) until the link is used.
    """

    __tablename__ = "email_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # signup | reset | alert | invite
    email: Mapped[str] = mapped_column(String(320), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(10))  # an invite's role (api.deps.ROLES)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AttemptCounter(Base):
    """Attempts counted in a fixed window (the log-in limits: per e-mail, per client).

    ``key`` is a SHA-256 of what is counted, so every value fits and none is kept in clear;
    ``spendsense.store.throttle`` takes and gives back attempts atomically.
    """

    __tablename__ = "attempt_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer)


class InstanceView(Base):
    """One EC2 instance as the dashboard shows it (projected from the stream).

    The verdict is the detector's newest: ``idle`` (alertable) and ``provisional`` (looks
    idle, never alerts) give :attr:`status`; ``confidence`` and ``reason`` go with it;
    ``rest_cpu_percent`` and ``rest_network_bps`` are the instance's learned rest limits
    (None before any). ``idle_score`` is the anomaly model's novelty, not idleness: it is
    kept, never shown as idleness.

    >>> InstanceView(idle=False, provisional=True).status
    'provisional'
    """

    __tablename__ = "instances"
    # The instance list's sorts and filters (api.services.instance_query), each ending in
    # the instance id as the sort does; the first also covers the tenant-wide summary.
    __table_args__ = (
        Index(
            "ix_instances_tenant_listing",
            "tenant_id",
            "idle",
            "state",
            "monthly_waste_usd",
            "instance_id",
        ),
        Index("ix_instances_tenant_idle_since", "tenant_id", "idle_since", "instance_id"),
        Index("ix_instances_tenant_name", "tenant_id", "name", "instance_id"),
        Index("ix_instances_tenant_type", "tenant_id", "instance_type", "instance_id"),
        Index("ix_instances_tenant_state", "tenant_id", "state", "instance_id"),
        Index("ix_instances_tenant_account", "tenant_id", "account_id", "region"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256), default="")
    state: Mapped[str] = mapped_column(String(20), default="unknown")
    instance_type: Mapped[str] = mapped_column(String(40), default="")
    lifecycle: Mapped[str] = mapped_column(String(20), default="on-demand")
    root_device_type: Mapped[str] = mapped_column(String(20), default="ebs")
    asg_name: Mapped[str | None] = mapped_column(String(256))
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    stop_protection: Mapped[bool] = mapped_column(Boolean, default=False)
    hourly_price_usd: Mapped[float | None] = mapped_column(Float)
    launch_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    idle_score: Mapped[float | None] = mapped_column(Float)
    idle: Mapped[bool] = mapped_column(Boolean, default=False)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    idle_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    rest_cpu_percent: Mapped[float | None] = mapped_column(Float)
    rest_network_bps: Mapped[float | None] = mapped_column(Float)
    monthly_waste_usd: Mapped[float] = mapped_column(Float, default=0.0)
    scored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_action: Mapped[str | None] = mapped_column(String(40))
    last_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def status(self) -> Literal["idle", "provisional", "active"]:
        """``idle``, ``provisional`` or ``active``, as ``DetectionRecord.status`` says it."""
        return "idle" if self.idle else "provisional" if self.provisional else "active"

    def mark_not_idle(self) -> None:
        """A person said it is not idle: active until the detector's next verdict."""
        self.idle = False
        self.provisional = False
