"""The collectors' state: where each instance's metrics stand, checkpoints, cost cache, CE calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow


class MetricCursor(Base):
    """One instance's metrics position: every period before ``cursor_at`` is decided.

    ``gaps`` lists earlier periods (ISO timestamps) that had no point yet and are asked
    for again until they are older than the late window. ``tier`` and ``next_poll_at``
    are the adaptive polling state; ``state`` the instance state last seen by inventory.
    """

    __tablename__ = "ingest_metric_cursors"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20), default="running")
    cursor_at: Mapped[datetime] = mapped_column(UtcDateTime)
    gaps: Mapped[list[str]] = mapped_column(JSON, default=list)
    tier: Mapped[str] = mapped_column(String(20), default="new")
    next_poll_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    final_poll_done: Mapped[bool] = mapped_column(default=False)
    quiet_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IngestCheckpoint(Base):
    """When an account's collection last made everything it published durable.

    On restart, the collector reads back the ``metrics`` records produced since the
    oldest checkpoint so nothing published after it is published again.
    """

    __tablename__ = "ingest_checkpoints"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    checkpoint_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CostCache(Base):
    """The last Cost Explorer answer for an account (daily cost by service and region)."""

    __tablename__ = "ingest_cost_cache"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class CostExplorerCall(Base):
    """One Cost Explorer request (each page counts: $0.01); the daily budget counts these."""

    __tablename__ = "ingest_ce_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    operation: Mapped[str] = mapped_column(String(40), default="GetCostAndUsage")
