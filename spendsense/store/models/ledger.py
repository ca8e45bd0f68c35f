"""The savings ledger: one row per stop, schedule period or deletion that saves money.

The projector (``projector/ledger.py``) writes the rows from the ``actions`` and
``inventory`` topics: a stop or deletion opens an entry at the hourly price of that moment;
a start, or the instance seen running again, ends it (a deletion never ends). ``entry_key``
(the action's decision key, else its audit id) is unique per tenant, so a replayed action
adds nothing. The API computes the money from prices and durations (``api/services/savings.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime


class SavingsEntry(Base):
    """One saving: what (``resource_kind``: ``instance`` or a waste kind, and its id), how
    (``action_kind``: ``stop``, ``schedule`` or ``delete``), by whom (``actor``: a person's
    e-mail, ``policy:<name>`` or ``schedule:<name>``), from ``started_at`` at
    ``hourly_price_usd`` (None: no price known, counted as nothing) until ``ended_at`` (None
    while it saves) and why it ended (``end_reason``)."""

    __tablename__ = "savings_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entry_key", name="uq_savings_entries_tenant_key"),
        Index("ix_savings_entries_resource", "tenant_id", "resource_kind", "resource_id"),
        Index("ix_savings_entries_tenant_started", "tenant_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(200))
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(256))
    account_id: Mapped[str | None] = mapped_column(String(12))
    action_kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(320))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    hourly_price_usd: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str] = mapped_column(String(64), default="")
