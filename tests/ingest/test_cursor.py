"""One instance's window: records for periods with points, gaps for late ones, nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.cloudwatch import Due, MetricsCollector
from ingest.deps import AccountJob, IngestDeps
from ingest.metrics import IngestMetrics
from ingest.polling import ALL_METRICS, get_policy
from spendsense.access import AccountRef, TenantSessions
from spendsense.aws import AwsFactory
from spendsense.metrics import CollectorRegistry
from spendsense.producer import Publisher
from spendsense.settings import AwsSettings, IngestSettings, KafkaSettings
from spendsense.store.models import MetricCursor

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)
ACCOUNT = AccountRef("acme", "111111111111", "arn:aws:iam::111111111111:role/x", "e" * 40)


def make_collector() -> MetricsCollector:
    ctx = IngestDeps(
        settings=IngestSettings(late_s=3600),
        sessions=TenantSessions(AwsFactory(AwsSettings())),
        store=None,  # type: ignore[arg-type]  # _advance does not touch the store
        metrics=IngestMetrics(CollectorRegistry()),
        policy=get_policy("adaptive"),
        clock=lambda: T0,
    )
    return MetricsCollector(ctx)


def poll(collector: MetricsCollector, row: MetricCursor, now: datetime, points: dict) -> list:
    job = AccountJob(ACCOUNT, ["us-east-1"], now, Publisher(None, KafkaSettings()))
    end = now - timedelta(minutes=10)
    return collector._advance(job, Due(row, row.cursor_at, ALL_METRICS), points, end)


def fresh_cursor() -> MetricCursor:
    """A running instance's cursor at T0, no gaps."""
    return MetricCursor(
        tenant_id="acme",
        instance_id="i-0abc12345",
        account_id="111111111111",
        region="us-east-1",
        state="running",
        cursor_at=T0,
        gaps=[],
        tier="suspect",
    )


def test_late_points_fill_their_gap_once_and_old_gaps_expire() -> None:
    collector = make_collector()
    row = fresh_cursor()
    values = {"cpu_percent": 1.0, "network_in_bytes": 10.0, "network_out_bytes": 5.0}
    first = {T0 + FIVE * i: values for i in range(6) if i != 2}  # period 2 is late
    records = poll(collector, row, T0 + timedelta(minutes=40), first)
    assert [r.timestamp for r in records] == [T0 + FIVE * i for i in (0, 1, 3, 4, 5)]
    assert row.gaps == [(T0 + FIVE * 2).isoformat()]
    assert row.cursor_at == T0 + timedelta(minutes=30)

    # the late point arrives: published once, in the next poll, with the new periods
    second = {T0 + FIVE * 2: values, T0 + FIVE * 6: values}
    records = poll(collector, row, T0 + timedelta(minutes=45), second)
    assert [r.timestamp for r in records] == [T0 + FIVE * 2, T0 + FIVE * 6]
    assert row.gaps == []

    # a period that never gets a point is asked for until it is older than the late window
    records = poll(collector, row, T0 + timedelta(minutes=50), {})
    assert records == [] and row.gaps == [(T0 + FIVE * 7).isoformat()]
    poll(collector, row, T0 + timedelta(minutes=40) + timedelta(seconds=3600), {})
    assert (T0 + FIVE * 7).isoformat() not in row.gaps


def test_periods_found_on_the_topic_after_a_crash_are_not_published_again() -> None:
    collector = make_collector()
    row = fresh_cursor()
    collector.ctx.recovered.add("acme", "i-0abc12345", T0 + FIVE)
    values = {"cpu_percent": 1.0}
    records = poll(
        collector,
        row,
        T0 + timedelta(minutes=25),
        {T0: values, T0 + FIVE: values, T0 + 2 * FIVE: values},
    )
    assert [r.timestamp for r in records] == [T0, T0 + 2 * FIVE]
    assert row.gaps == []  # the recovered period is decided, not a gap
