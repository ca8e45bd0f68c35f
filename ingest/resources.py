"""The ``resources`` collector: every resource kind of every region, judged, to ``waste``.

For each account, at most once per :attr:`ResourcesCollector.interval` (the verdicts move by
the hour and the day, not by the poll cycle), in each region: every registered kind
(:mod:`spendsense.resources.registry`) is described; the metric kinds' daily activity over
the lookback (63 days) is read in one GetMetricData request per batch of 500 metrics
(:func:`fetch_histories`), each metric judged against its own rest level; each resource is judged and published as one
:class:`~spendsense.events.WasteRecord` priced at its region's price, and one that is no longer
listed is published ``gone``. When a resource entered its state comes from AWS where it says
(an instance's stop date), else from the collector's sightings in the store
(:class:`~spendsense.store.models.ResourceSighting`): the first cycle that saw it so.

A kind that fails in a region (access denied, throttling beyond retries, a timeout) is one
error on the account's status and nothing else: the other kinds and regions, and the other
accounts, are collected, and the failed kind's resources are neither judged nor marked gone.
A region that failed earlier in the account's cycle (its inventory) is left to the next.

>>> query = metric_query("q0", Metric("AWS/RDS", "DatabaseConnections", "Maximum"),
...                      (("DBInstanceIdentifier", "reports"),))
>>> query["MetricStat"]["Period"], query["MetricStat"]["Stat"]
(86400, 'Maximum')
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.deps import AccountJob, IngestDeps
from ingest.faults import AwsFault, aws_faults
from ingest.registry import Collector, register
from spendsense.errors import TenantAccessError
from spendsense.events import WasteRecord, account_key
from spendsense.resources.activity import CLEAN_FLOOR, History, history_from, lookback_start
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import (
    HUMS,
    Facts,
    Metric,
    ResourceKindPlugin,
    WasteRules,
    load_kinds,
)
from spendsense.store.models import ResourceSighting
from spendsense.topics import WASTE

log = logging.getLogger(__name__)

MAX_QUERIES = 500  # GetMetricData's limit; 500 x 63 daily points stays under 100,800
DAY_S = 86400


@dataclass(frozen=True)
class Watched:
    """One resource's metrics to read: its kind, facts and the queries' ids."""

    kind: str
    facts: Facts
    metrics: tuple[Metric, ...]


def metric_query(
    query_id: str, metric: Metric, dimensions: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """One daily GetMetricData query of ``metric`` for one resource."""
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            },
            "Period": DAY_S,
            "Stat": metric.stat,
        },
        "ReturnData": True,
    }


def fetch_histories(
    cloudwatch: Any, watched: list[Watched], now: datetime, rules: WasteRules
) -> dict[tuple[str, str], History]:
    """Each watched resource's daily history, keyed by (kind, resource id)."""
    start = lookback_start(now, rules.lookback_days)
    queries = [
        metric_query(_query_id(i, j), metric, w.facts.dimensions)
        for i, w in enumerate(watched)
        for j, metric in enumerate(w.metrics)
    ]
    points: dict[str, list[tuple[datetime, float]]] = {}
    for batch in _batches(queries, MAX_QUERIES):
        for result in _results(cloudwatch, batch, start, now):
            points.setdefault(result["Id"], []).extend(
                zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            )
    return {
        (w.kind, w.facts.resource_id): history_from(
            [
                (
                    m.rest if rules.rest_levels else CLEAN_FLOOR,
                    m.stat,
                    points.get(_query_id(i, j), []),
                )
                for j, m in enumerate(w.metrics)
            ],
            start,
            now,
            w.facts.created_at,
        )
        for i, w in enumerate(watched)
    }


def _query_id(resource: int, metric: int) -> str:
    """The GetMetricData id of a watched resource's metric (both by position)."""
    return f"q{resource}_{metric}"


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _results(
    cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """Every result of one GetMetricData request (pages of one request followed)."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"NextToken": token} if token else {}
        resp = cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end, **kwargs
        )
        yield from resp["MetricDataResults"]
        token = resp.get("NextToken")
        if not token:
            return


@register("resources")
class ResourcesCollector(Collector):
    """Describes, watches, prices and judges every resource kind; publishes to ``waste``."""

    permissions = tuple(load_kinds().permissions())
    order = 60
    interval = timedelta(hours=1)

    def __init__(self, ctx: IngestDeps, rules: WasteRules | None = None) -> None:
        super().__init__(ctx)
        self.rules = rules or WasteRules()
        self.prices = PriceBook.load()
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def due(self, job: AccountJob) -> bool:
        """Whether the account's resources were judged longer than :attr:`interval` ago."""
        with self._lock:
            last = self._last.get(account_key(job.account.tenant_id, job.account.account_id))
        return last is None or job.now - last >= self.interval

    def collect(self, job: AccountJob) -> int:
        if not self.due(job):
            return 0
        # a region that failed earlier in this cycle is left for the next one, as the
        # collectors after the inventory leave it
        failed = {region for region, _, _ in job.errors}
        sent = sum(self._region(job, region) for region in job.regions if region not in failed)
        with self._lock:
            self._last[account_key(job.account.tenant_id, job.account.account_id)] = job.now
        self.ctx.metrics.collected.labels(tenant=job.account.tenant_id, collector=self.name).inc(
            sent
        )
        return sent

    def _region(self, job: AccountJob, region: str) -> int:
        described: dict[str, list[Facts]] = {}
        kinds = load_kinds()
        for name, kind in kinds.items():
            facts = self._describe(job, region, name, kind)
            if facts is not None:
                described[name] = facts
        watched = [
            Watched(name, f, kinds[name].metrics_of(f))
            for name, facts in described.items()
            for f in facts
            if kinds[name].metrics_of(f)
        ]
        histories: dict[tuple[str, str], History] = {}
        if watched:
            try:
                with (
                    aws_faults(region, "GetMetricData"),
                    self.ctx.sessions.guard(job.account, region, "GetMetricData"),
                ):
                    cloudwatch = self.ctx.sessions.client(job.account, "cloudwatch", region)
                    histories = fetch_histories(cloudwatch, watched, job.now, self.rules)
            except (TenantAccessError, AwsFault) as err:
                job.errors.append((region, err.code, err.message))
                # without their history the metric kinds are not judged this time
                for name in {w.kind for w in watched}:
                    described.pop(name, None)
        with self.ctx.store.begin() as session:
            sent = sum(
                self._publish(session, job, region, kinds[name], facts, histories)
                for name, facts in described.items()
            )
            job.publisher.flush()  # confirmed before the sightings are committed
        return sent

    def _describe(
        self, job: AccountJob, region: str, name: str, kind: type[ResourceKindPlugin]
    ) -> list[Facts] | None:
        sessions = self.ctx.sessions
        operation = f"Describe ({name})"
        try:
            with aws_faults(region, operation), sessions.guard(job.account, region, operation):
                return kind.describe(
                    lambda service: sessions.client(job.account, service, region), region
                )
        except (TenantAccessError, AwsFault) as err:
            job.errors.append((region, err.code, err.message))
            return None

    def _publish(
        self,
        session: Session,
        job: AccountJob,
        region: str,
        kind: type[ResourceKindPlugin],
        described: list[Facts],
        histories: dict[tuple[str, str], History],
    ) -> int:
        """Judge and publish one kind of one region; returns the records sent."""
        account = job.account

        def send(resource_id: str, **fields: Any) -> None:
            record = WasteRecord(
                tenant_id=account.tenant_id,
                account_id=account.account_id,
                region=region,
                kind=kind.name,
                resource_id=resource_id,
                observed_at=job.now,
                **fields,
            )
            job.publisher.send(WASTE, record)

        known = {
            row.resource_id: row
            for row in session.scalars(
                select(ResourceSighting).where(
                    ResourceSighting.tenant_id == account.tenant_id,
                    ResourceSighting.account_id == account.account_id,
                    ResourceSighting.region == region,
                    ResourceSighting.kind == kind.name,
                )
            )
        }
        for facts in described:
            row = known.pop(facts.resource_id, None)
            if row is None:
                row = ResourceSighting(
                    tenant_id=account.tenant_id,
                    kind=kind.name,
                    resource_id=facts.resource_id,
                    account_id=account.account_id,
                    region=region,
                    state=facts.state,
                    state_since=job.now,
                )
                session.add(row)
            elif row.state != facts.state:
                row.state, row.state_since = facts.state, job.now
            row.last_seen_at = job.now
            seen = facts if facts.state_since else replace(facts, state_since=row.state_since)
            verdict = kind.judge(
                seen, histories.get((kind.name, facts.resource_id)), job.now, self.rules
            )
            send(
                facts.resource_id,
                name=facts.name,
                state=facts.state,
                tags=facts.tags,
                details={**facts.details, HUMS: True} if verdict.hums else facts.details,
                monthly_price_usd=kind.monthly_price(facts, self.prices),
                waste=verdict.waste,
                provisional=verdict.provisional,
                reason=verdict.reason,
                since=verdict.since,
            )
        for row in known.values():
            send(row.resource_id, state=row.state, gone=True, reason="no longer exists")
            session.delete(row)
        return len(described) + len(known)
