"""Waste beyond instances: one row per resource as the dashboard shows it, projected from the
``waste`` topic; where each is in the alert cycle; the decisions taken on those resources.

The projector folds each :class:`~spendsense.events.WasteRecord` into the row of its tenant,
kind and resource id (a newer ``observed_at`` wins, so a replay changes nothing); a ``gone``
record marks the row gone. An action on a resource is recorded once under its decision key
(:class:`WasteDecision`) before anything is done, so a repeat returns the first result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow


class WasteResource(Base):
    """One resource other than an instance, its verdict and the last thing done to it.

    ``verdict``: ``waste`` (alertable), ``provisional`` (looks wasted, still in its grace or
    behind a half-seen history), ``ok`` or ``gone`` (no longer exists).
    """

    __tablename__ = "waste_resources"
    __table_args__ = (Index("ix_waste_resources_tenant_kind", "tenant_id", "kind", "verdict"),)

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(40), default="")
    verdict: Mapped[str] = mapped_column(String(20), default="ok")
    reason: Mapped[str] = mapped_column(Text, default="")
    monthly_price_usd: Mapped[float | None] = mapped_column(Float)
    monthly_waste_usd: Mapped[float] = mapped_column(Float, default=0.0)
    since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_action: Mapped[str | None] = mapped_column(String(80))
    last_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WasteAlertState(Base):
    """One resource where it is in the alert cycle (the digest's waste section, the same
    cooldown and outbox as idle instances), kept by the actions worker from ``waste``.

    ``pending``: wasted (never provisional), waiting for the next digest. ``alerted_since``:
    the finding (its ``since``) the last digest named: set, the episode never alerts again;
    a record that is not waste (fine, provisional, gone) ends the episode and clears it.
    """

    __tablename__ = "waste_alert_states"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    monthly_waste_usd: Mapped[float] = mapped_column(Float, default=0.0)
    since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waste: Mapped[bool] = mapped_column(Boolean, default=False)
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    alerted_since: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WasteDecision(Base):
    """An action on a resource, recorded once under its key before acting; a repeat of the
    key finds it and returns its result. ``status``: ``pending`` or ``done``."""

    __tablename__ = "waste_decisions"

    decision_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    resource_id: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    result: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
