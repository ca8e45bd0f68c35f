"""The ``cost-explorer`` collector: daily UnblendedCost by service and region, cached, budgeted.

Each Cost Explorer request (each page) costs $0.01 and its data refreshes up to three
times a day, so the answer is cached in the store (``ingest_cost_cache``, which the API
reads the dashboard's costs from) and asked for again only after ``ce_refresh_h``; every
request is logged (``ingest_ce_calls``) and no more than ``ce_calls_per_day`` are made per
account in any 24 hours. One query covers both the last ``cost_days`` days and the month
to date, grouped by SERVICE and REGION.

>>> from datetime import UTC
>>> cost_window(datetime(2026, 11, 27, 15, tzinfo=UTC), 30)
('2026-10-29', '2026-11-28')
>>> cost_window(datetime(2026, 12, 31, tzinfo=UTC), 7)
('2026-12-01', '2027-01-01')
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from ingest.deps import AccountJob
from ingest.faults import AwsFault, aws_faults
from ingest.registry import Collector, register
from spendsense.errors import TenantAccessError
from spendsense.store.models import CostCache, CostExplorerCall

log = logging.getLogger(__name__)

CE_REGION = "us-east-1"  # Cost Explorer has one endpoint


def cost_window(now: datetime, days: int) -> tuple[str, str]:
    """[start, end) dates covering the last ``days`` days and the month to date."""
    today = now.date()
    start = min(today - timedelta(days=days - 1), today.replace(day=1))
    return start.isoformat(), (today + timedelta(days=1)).isoformat()


class CostLine(BaseModel):
    """One day's unblended cost of one service in one region (a line of the cached answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: str
    service: str
    region: str = ""
    amount_usd: float


@register("cost-explorer")
class CostCollector(Collector):
    """GetCostAndUsage, at most ``ce_calls_per_day`` requests per account per day."""

    permissions = ("ce:GetCostAndUsage",)
    # one cached call: before the metrics, so a first cycle's long backfill does not hold
    # the account's costs back
    order = 15

    def calls_in_last_day(self, tenant_id: str, account_id: str, now: datetime) -> int:
        with self.ctx.store() as session:
            return int(
                session.scalar(
                    select(func.count(CostExplorerCall.id)).where(
                        CostExplorerCall.tenant_id == tenant_id,
                        CostExplorerCall.account_id == account_id,
                        CostExplorerCall.at > now - timedelta(days=1),
                    )
                )
                or 0
            )

    def _fresh(self, job: AccountJob) -> bool:
        acct = job.account
        with self.ctx.store() as session:
            cache = session.get(CostCache, (acct.tenant_id, acct.account_id))
        refresh = timedelta(hours=self.ctx.settings.ce_refresh_h)
        return cache is not None and job.now - cache.fetched_at < refresh

    def _spend_call(self, job: AccountJob) -> bool:
        """Log one request if the day's budget allows it (before the request is made)."""
        acct = job.account
        if self.calls_in_last_day(acct.tenant_id, acct.account_id, job.now) >= (
            self.ctx.settings.ce_calls_per_day
        ):
            return False
        with self.ctx.store.begin() as session:
            session.add(
                CostExplorerCall(tenant_id=acct.tenant_id, account_id=acct.account_id, at=job.now)
            )
        return True

    def collect(self, job: AccountJob) -> int:
        if self._fresh(job):
            return 0
        acct = job.account
        start, end = cost_window(job.now, self.ctx.settings.cost_days)
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": start, "End": end},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [
                {"Type": "DIMENSION", "Key": "SERVICE"},
                {"Type": "DIMENSION", "Key": "REGION"},
            ],
        }
        lines: list[CostLine] = []
        try:
            with (
                aws_faults(None, "Cost Explorer GetCostAndUsage"),
                self.ctx.sessions.guard(acct, CE_REGION, "GetCostAndUsage"),
            ):
                ce = self.ctx.sessions.client(acct, "ce", CE_REGION)
                while True:
                    if not self._spend_call(job):
                        self.ctx.metrics.errors.labels(
                            tenant=acct.tenant_id, kind="ce-budget"
                        ).inc()
                        log.info(
                            "cost explorer budget spent for %s/%s", acct.tenant_id, acct.account_id
                        )
                        return 0
                    resp = ce.get_cost_and_usage(**kwargs)
                    lines.extend(_lines(resp))
                    token = resp.get("NextPageToken")
                    if not token:
                        break
                    kwargs["NextPageToken"] = token
        except (TenantAccessError, AwsFault) as err:
            job.errors.append((None, err.code, err.message))
            return 0
        with self.ctx.store.begin() as session:
            session.merge(
                CostCache(
                    tenant_id=acct.tenant_id,
                    account_id=acct.account_id,
                    fetched_at=job.now,
                    lines=[line.model_dump() for line in lines],
                )
            )
        if self.ctx.cost_changes is not None:
            self.ctx.cost_changes.bump()
        self.ctx.metrics.collected.labels(tenant=acct.tenant_id, collector=self.name).inc()
        return 1


def _lines(resp: dict[str, Any]) -> list[CostLine]:
    out = []
    for period in resp.get("ResultsByTime", []):
        day = period["TimePeriod"]["Start"]
        for group in period.get("Groups", []):
            keys = [*group.get("Keys", []), "", ""]
            amount = float(group["Metrics"]["UnblendedCost"]["Amount"])
            out.append(CostLine(day=day, service=keys[0], region=keys[1], amount_usd=amount))
    return out
