"""Usage anomalies as the dashboard shows them: one row per incident, projected from the
``anomalies`` topic; and the facts of an incident every table about one keeps.

The projector (``spendsense project``) folds each incident's ``open`` record into a row and
its ``closed`` record into the same row (keyed by tenant and ``incident_id``), so replaying
the topic changes nothing; the instance page reads the rows of one instance.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spendsense.store.models.base import Base, UtcDateTime, utcnow

FACTS = (
    "instance_id",
    "account_id",
    "region",
    "metric",
    "direction",
    "since",
    "ended_at",
    "observed",
    "expected_low",
    "expected_high",
    "dollars_per_hour",
    "cost_basis",
)
"""The fields of an :class:`~spendsense.events.AnomalyRecord` an :class:`AnomalyFacts` keeps."""


class AnomalyFacts:
    """What is known of one incident (see :class:`~spendsense.events.AnomalyRecord`):
    which instance and metric, since and until when (``ended_at`` None while it lasts), the
    value observed against the range expected, and its cost."""

    instance_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(12))
    region: Mapped[str | None] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(4))  # up | down
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    observed: Mapped[float] = mapped_column(Float)
    expected_low: Mapped[float] = mapped_column(Float)
    expected_high: Mapped[float] = mapped_column(Float)
    dollars_per_hour: Mapped[float | None] = mapped_column(Float)
    cost_basis: Mapped[str] = mapped_column(Text, default="")

    def take_facts(self, record: object) -> None:
        """Copy :data:`FACTS` from an anomaly record (the newest one of the incident)."""
        for name in FACTS:
            setattr(self, name, getattr(record, name))


class AnomalyView(AnomalyFacts, Base):
    """One usage anomaly incident of one instance's metric, as the instance page shows it."""

    __tablename__ = "anomalies"
    __table_args__ = (Index("ix_anomalies_tenant_instance", "tenant_id", "instance_id", "since"),)

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    score: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
