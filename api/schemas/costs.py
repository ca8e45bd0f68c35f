"""What the tenant spends: the last 7 days by day, by service, and month to date."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class DailyCost(BaseModel):
    day: date
    amount_usd: float


class ServiceCost(BaseModel):
    service: str
    amount_usd: float


class CostSummary(BaseModel):
    """Costs from the cached Cost Explorer answers of every connected account."""

    as_of: date
    fetched_at: datetime | None
    accounts: int
    month_to_date_usd: float
    last_7_days_usd: float
    daily: list[DailyCost]
    by_service: list[ServiceCost]
