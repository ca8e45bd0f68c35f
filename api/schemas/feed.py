"""What the live feed sends (``GET /api/feed``, Server-Sent Events)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from api.schemas.instances import Status
from spendsense.events import DetectionRecord


class FeedDetection(BaseModel):
    """``event: detection``: the detector's verdict on one instance at one period, as the
    dashboard shows it (status and confidence; never the model's novelty score).

    >>> from datetime import UTC
    >>> rec = DetectionRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
    ...     instance_id="i-0abc1234", timestamp=datetime(2026, 11, 27, tzinfo=UTC), score=0.9,
    ...     idle=False, provisional=True, confidence=0.4, reason="quiet for 5 hours")
    >>> shown = FeedDetection.of(rec).model_dump()
    >>> shown["status"], shown["confidence"], "score" in shown, "tenant_id" in shown
    ('provisional', 0.4, False, False)
    """

    instance_id: str
    account_id: str
    region: str
    timestamp: datetime
    name: str
    instance_type: str
    status: Status
    confidence: float
    reason: str
    idle_since: datetime | None
    monthly_waste_usd: float

    @classmethod
    def of(cls, record: DetectionRecord) -> FeedDetection:
        """The feed's view of a detection record."""
        fields = set(cls.model_fields) - {"status"}
        return cls(status=record.status, **record.model_dump(include=fields))
