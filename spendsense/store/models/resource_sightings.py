"""The resources collector's memory: each resource beyond instances it saw, in which state
since when (AWS does not say when a volume was detached or an address disassociated), and
when it was last seen (one no longer listed is published ``gone``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime


class ResourceSighting(Base):
    """One resource of one kind, as the collector last saw it."""

    __tablename__ = "ingest_resource_sightings"
    __table_args__ = (
        Index("ix_ingest_resource_sightings_where", "tenant_id", "account_id", "region", "kind"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(40), default="")
    state_since: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
