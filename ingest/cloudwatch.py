"""The ``cloudwatch`` collector: GetMetricData, batched, one ``metrics`` record per instance per poll.

Each instance has a cursor in the store (``ingest_metric_cursors``): every 5-minute
period before it is decided. A poll asks CloudWatch for ``[cursor, settled end)`` plus
the recent periods that had no point yet (*gaps*, asked for again until they are older
than the late window), publishes the periods that have a point as one record per instance
(a :class:`~spendsense.events.MetricPollRecord`; a backfill's as several), flushes the
producer, and only then commits the new cursors (see :mod:`ingest.recovery` for the
restart side). A period counts as settled ``settle_s`` after it ended, the time
CloudWatch takes to show basic-monitoring points; points later than that still arrive
as gap fills within ``late_s``.

>>> align(datetime(2026, 11, 1, 10, 7, 31, tzinfo=UTC))
datetime.datetime(2026, 11, 1, 10, 5, tzinfo=datetime.timezone.utc)
>>> len(periods(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC)))
12
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.deps import AccountJob, InstanceInfo
from ingest.faults import AwsFault, aws_faults
from ingest.polling import FIELDS, STATISTICS, next_tier
from ingest.progress import Backfill
from ingest.recovery import touch_checkpoint
from ingest.registry import Collector, register
from spendsense.errors import TenantAccessError
from spendsense.events import MetricPollRecord, MetricRecord
from spendsense.store.models import IngestCheckpoint, MetricCursor
from spendsense.topics import METRICS

PERIOD = timedelta(seconds=300)
MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
ACTIVE_STATES = {"pending", "running", "stopping", "shutting-down"}
Values = dict[str, float]


def align(t: datetime) -> datetime:
    """The start of the 5-minute period holding ``t``."""
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % 300, UTC)


def periods(start: datetime, end: datetime) -> list[datetime]:
    """Period starts in ``[start, end)``."""
    out = []
    t = align(start)
    while t < end:
        out.append(t)
        t += PERIOD
    return out


def clean_value(field: str, value: float) -> float | None:
    """A CloudWatch value within its field's range; ``None`` if it is not a number.

    >>> clean_value("cpu_percent", 100.4), clean_value("network_in_bytes", float("nan"))
    (100.0, None)
    """
    if not math.isfinite(value):
        return None
    upper = 100.0 if field == "cpu_percent" else 1e13
    return min(max(value, 0.0), upper)


def metric_query(qid: str, instance_id: str, metric: str) -> dict[str, Any]:
    """One GetMetricData query: ``metric`` of ``instance_id`` per 5 minutes, with its statistic."""
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/EC2",
                "MetricName": metric,
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            },
            "Period": 300,
            "Stat": STATISTICS[metric],
        },
        "ReturnData": True,
    }


def metric_data_results(
    cw: Any,
    queries: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    on_page: Callable[[], None],
    max_datapoints: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every ``MetricDataResults`` entry of one GetMetricData request over ``[start, end)``,
    oldest points first, following ``NextToken``; ``on_page`` runs after each page's answer."""
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    if max_datapoints is not None:
        kwargs["MaxDatapoints"] = max_datapoints
    while True:
        resp = cw.get_metric_data(**kwargs)
        on_page()
        yield from resp.get("MetricDataResults", [])
        token = resp.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


@dataclass
class Due:
    """One instance to poll in this cycle: its stored cursor and the window to ask for."""

    row: MetricCursor
    start: datetime
    metrics: tuple[str, ...]


@dataclass
class Plan:
    """One region's work in one cycle: the settled end, and the instances due, oldest first."""

    end: datetime
    due: list[Due]

    def periods(self, due: list[Due]) -> int:
        """The instance-periods ``due`` asks for, up to the settled end."""
        return sum(int((self.end - d.start) / PERIOD) for d in due)

    @property
    def backfill(self) -> bool:
        """Whether it fetches more than a day of history (progress is then logged)."""
        return bool(self.due) and self.end - self.due[0].start > timedelta(days=1)


@register("cloudwatch")
class MetricsCollector(Collector):
    """CPUUtilization, NetworkIn and NetworkOut per instance, incrementally."""

    permissions = ("cloudwatch:GetMetricData",)
    order = 20

    def collect(self, job: AccountJob) -> int:
        plans = {region: self._plan(job, region, insts) for region, insts in job.instances.items()}
        backfill = None
        if any(plan.backfill for plan in plans.values()):
            acct = job.account
            total = sum(plan.periods(plan.due) for plan in plans.values())
            backfill = Backfill(acct.tenant_id, acct.account_id, total)
        sent = 0
        for region, plan in plans.items():
            try:
                sent += self._poll(job, region, plan, backfill)
            except (TenantAccessError, AwsFault) as err:
                # The region's failing batch sent nothing and kept its cursors: the next
                # cycle asks for it again. Earlier batches were flushed and committed.
                job.errors.append((region, err.code, err.message))
        self.ctx.metrics.collected.labels(tenant=job.account.tenant_id, collector=self.name).inc(
            sent
        )
        return sent

    # -- cursors ---------------------------------------------------------------------

    def _sync(
        self,
        session: Session,
        job: AccountJob,
        region: str,
        instances: list[InstanceInfo],
        end: datetime,
    ) -> list[MetricCursor]:
        """Create cursors for new instances, note state changes, drop vanished instances."""
        acct = job.account
        rows = {
            r.instance_id: r
            for r in session.scalars(
                select(MetricCursor).where(
                    MetricCursor.tenant_id == acct.tenant_id,
                    MetricCursor.account_id == acct.account_id,
                    MetricCursor.region == region,
                )
            )
        }
        floor = align(end - timedelta(days=self.ctx.settings.backfill_days))
        listed = set()
        for inst in instances:
            listed.add(inst.instance_id)
            row = rows.get(inst.instance_id)
            if row is None:
                row = MetricCursor(
                    tenant_id=acct.tenant_id,
                    instance_id=inst.instance_id,
                    account_id=acct.account_id,
                    region=region,
                    state=inst.state,
                    cursor_at=max(floor, align(inst.launch_time)),
                    gaps=[],
                    tier="new",
                    next_poll_at=job.now,
                    final_poll_done=False,
                )
                session.add(row)
                rows[inst.instance_id] = row
            if inst.state in ACTIVE_STATES:
                row.final_poll_done = False
            elif row.state in ACTIVE_STATES:
                # Just left running: one more poll once its last periods have settled
                # (the period holding the stop ends at most 5 minutes after now).
                row.final_poll_done = False
                row.next_poll_at = job.now + timedelta(seconds=self.ctx.settings.settle_s + 300)
            row.state = inst.state
            row.cursor_at = max(row.cursor_at, floor)
            self.ctx.recovered.prune(
                acct.tenant_id,
                inst.instance_id,
                row.cursor_at,
                {datetime.fromisoformat(g) for g in row.gaps},
            )
        for iid, row in rows.items():
            if iid not in listed:
                session.delete(row)
                self.ctx.recovered.forget(acct.tenant_id, iid)
        if session.get(IngestCheckpoint, (acct.tenant_id, acct.account_id)) is None:
            touch_checkpoint(session, acct.tenant_id, acct.account_id)
        return [rows[i] for i in sorted(listed)]

    def _due(self, row: MetricCursor, now: datetime, end: datetime) -> Due | None:
        if row.next_poll_at > now or row.cursor_at >= end:
            return None
        if row.state not in ACTIVE_STATES and row.final_poll_done:
            return None
        gaps = [datetime.fromisoformat(g) for g in row.gaps]
        start = min([row.cursor_at, *gaps])
        return Due(row, start, self.ctx.policy.plan(row.tier).metrics)

    # -- polling ---------------------------------------------------------------------

    def _plan(self, job: AccountJob, region: str, instances: list[InstanceInfo]) -> Plan:
        """The region's cursors synced with its instances, and those due in this cycle."""
        end = align(job.now - timedelta(seconds=self.ctx.settings.settle_s))
        with self.ctx.store.begin() as session:
            rows = self._sync(session, job, region, instances, end)
        due = [d for d in (self._due(r, job.now, end) for r in rows) if d is not None]
        due.sort(key=lambda d: d.start)
        return Plan(end, due)

    def _poll(self, job: AccountJob, region: str, plan: Plan, backfill: Backfill | None) -> int:
        """Fetch, publish and commit the region's due instances batch by batch."""
        sent = 0
        for batch in self._batches(plan.due, plan.end):
            if self.ctx.stop.is_set():
                break
            values = self._fetch(job, region, batch, plan.end)
            records = [
                self._advance(job, d, values.get(d.row.instance_id, {}), plan.end) for d in batch
            ]
            for recs in records:
                for poll in MetricPollRecord.pack(recs):  # one record per instance's poll
                    job.publisher.send(METRICS, poll)
            job.publisher.flush()
            self._commit(job, batch)
            sent += sum(len(r) for r in records)
            if backfill is not None:
                backfill.advance(plan.periods(batch))
        return sent

    def _batches(self, due: list[Due], end: datetime) -> list[list[Due]]:
        """Groups of at most 500 queries and 100,800 datapoints (windows sorted oldest first)."""
        batches: list[list[Due]] = []
        batch: list[Due] = []
        queries = 0
        for d in due:
            span = max(1, int((end - (batch[0].start if batch else d.start)) / PERIOD))
            n = len(d.metrics)
            if batch and (queries + n > MAX_QUERIES or (queries + n) * span > MAX_DATAPOINTS):
                batches.append(batch)
                batch, queries = [], 0
            batch.append(d)
            queries += n
        if batch:
            batches.append(batch)
        return batches

    def _fetch(
        self, job: AccountJob, region: str, batch: list[Due], end: datetime
    ) -> dict[str, dict[datetime, Values]]:
        """GetMetricData for one batch: instance → period → {field: value}."""
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[str, str]] = {}
        for i, d in enumerate(batch):
            for j, metric in enumerate(d.metrics):
                qid = f"q{i}_{j}"
                ids[qid] = (d.row.instance_id, FIELDS[metric])
                queries.append(metric_query(qid, d.row.instance_id, metric))
        out: dict[str, dict[datetime, Values]] = defaultdict(lambda: defaultdict(dict))
        sessions = self.ctx.sessions
        tenant_id = job.account.tenant_id
        with (
            aws_faults(region, "GetMetricData"),
            sessions.guard(job.account, region, "GetMetricData"),
        ):
            cw = sessions.client(job.account, "cloudwatch", region)
            for result in metric_data_results(
                cw,
                queries,
                batch[0].start,
                end,
                on_page=lambda: self.ctx.metrics.metrics_requested(tenant_id, len(queries)),
            ):
                iid, field = ids[result["Id"]]
                for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                    cleaned = clean_value(field, float(value))
                    if cleaned is not None:
                        out[iid][align(ts.astimezone(UTC))][field] = cleaned
        return out

    def _advance(
        self, job: AccountJob, d: Due, values: dict[datetime, Values], end: datetime
    ) -> list[MetricRecord]:
        """The records for one instance's window; moves its cursor, gaps and tier (unsaved)."""
        row, acct = d.row, job.account
        late = job.now - timedelta(seconds=self.ctx.settings.late_s)
        window = sorted(
            {datetime.fromisoformat(g) for g in row.gaps} | set(periods(row.cursor_at, end))
        )
        records, gaps = [], []
        for p in window:
            point = values.get(p)
            if point:
                if not self.ctx.recovered.contains(acct.tenant_id, row.instance_id, p):
                    records.append(
                        MetricRecord(
                            tenant_id=acct.tenant_id,
                            account_id=acct.account_id,
                            region=row.region,
                            instance_id=row.instance_id,
                            timestamp=p,
                            **point,
                        )
                    )
            elif p >= late:
                gaps.append(p.isoformat())
        row.gaps = gaps
        row.cursor_at = end
        if row.state not in ACTIVE_STATES:
            row.final_poll_done = True
        self._reclassify(row, records, job.now)
        return records

    def _reclassify(self, row: MetricCursor, records: list[MetricRecord], now: datetime) -> None:
        row.tier, row.quiet_since = next_tier(
            self.ctx.policy, row.tier, row.quiet_since, records, now
        )
        row.next_poll_at = now + timedelta(seconds=self.ctx.policy.plan(row.tier).interval_s)
        row.updated_at = now

    def _commit(self, job: AccountJob, batch: list[Due]) -> None:
        """Store the batch's cursors and the account's checkpoint (after the flush)."""
        acct = job.account
        with self.ctx.store.begin() as session:
            for d in batch:
                session.merge(d.row)
            touch_checkpoint(session, acct.tenant_id, acct.account_id)
        for d in batch:
            self.ctx.recovered.forget(acct.tenant_id, d.row.instance_id)
