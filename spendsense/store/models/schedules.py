"""Off-hours schedules: their definitions, which instances follow which, and what the
scheduler last did to each instance.

A schedule applies to an instance chosen in the UI (:class:`ScheduleAssignment`) or
carrying the tag ``spendsense:schedule=<name>`` in the inventory; the UI's choice wins.
:class:`ScheduleState` is the scheduler's memory per instance: the last action it took and
for which stretch (the transition that began it), and a person's manual start in an off
stretch, respected until the next period begins (``override_until``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow


class Schedule(Base):
    """A named set of weekly periods in a time zone (``actions.schedules.periods``).

    ``periods``: ``[{"days": ["mon", ...], "start": "08:00", "end": "19:00"}]``; ``dry_run``:
    audit what it would do and change nothing; ``enabled``: off, the scheduler ignores it.
    """

    __tablename__ = "schedules"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ScheduleAssignment(Base):
    """An instance put on a schedule in the UI (it wins over the instance's tag)."""

    __tablename__ = "schedule_assignments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "schedule_name"],
            ["schedules.tenant_id", "schedules.name"],
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    schedule_name: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(12))
    region: Mapped[str | None] = mapped_column(String(32))
    assigned_by: Mapped[str] = mapped_column(String(320), default="")
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ScheduleState(Base):
    """What the scheduler last did to one instance.

    ``action`` (``start`` or ``stop``) taken at ``acted_at`` for the stretch that began at
    ``boundary`` under schedule ``schedule_name``, with the executor's ``result``;
    ``override_until``: a person started the instance after our stop in this off stretch, so
    it is left running until then (the next period's start).
    """

    __tablename__ = "schedule_states"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    schedule_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))
    boundary: Mapped[datetime] = mapped_column(UtcDateTime)
    acted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    result: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(500), default="")
    override_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
