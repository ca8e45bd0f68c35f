"""What the API keeps: log-in sessions, log-in attempts, and the instances projection.

``instances`` is a read model: the projector (``spendsense project``) folds the
``inventory``, ``detections`` and ``actions`` topics into one row per instance so the
dashboard reads one indexed table instead of the stream.
"""

from __future__ import annotations

from datetime import datetime

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


class LoginAttempt(Base):
    """One failed log-in, by e-mail and client address: the rate limit counts these."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class InstanceView(Base):
    """One EC2 instance as the dashboard shows it (projected from the stream)."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_tenant_listing", "tenant_id", "idle", "monthly_waste_usd"),
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
    idle_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    monthly_waste_usd: Mapped[float] = mapped_column(Float, default=0.0)
    scored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_action: Mapped[str | None] = mapped_column(String(40))
    last_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
