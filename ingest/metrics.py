"""The collector's Prometheus metrics, including what watching costs in AWS dollars.

Prices (USD, us-east-1, checked 2026-11 on the AWS CloudWatch and Cost Explorer
pricing pages): GetMetricData is $0.01 per 1,000 metrics requested; each Cost
Explorer API request (each page) is $0.01. DescribeInstances and STS are free.

:class:`AwsUsageMetrics` (calls, metrics requested, estimated spend) is also what the API
counts its own reads in customer accounts with.

>>> reg = CollectorRegistry()
>>> m = IngestMetrics(reg)
>>> m.aws_call("t1", "monitoring", "GetMetricData")
>>> m.metrics_requested("t1", 1000)
>>> reg.get_sample_value("spendsense_aws_estimated_spend_dollars_total", {"tenant": "t1"})
0.01
"""

from __future__ import annotations

import time

from spendsense.metrics import CollectorRegistry, Counter, Gauge, Histogram

GET_METRIC_DATA_USD_PER_METRIC = 0.01 / 1000
COST_EXPLORER_USD_PER_REQUEST = 0.01
ACCOUNT_STATUS_VALUES = ("pending", "ok", "error")


class AwsUsageMetrics:
    """AWS calls made in customer accounts and what they cost (registry passed in)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.aws_calls = Counter(
            "spendsense_aws_calls_total",
            "AWS API calls made in customer accounts, by operation (retries excluded).",
            ["tenant", "service", "operation"],
            registry=registry,
        )
        self.requested = Counter(
            "spendsense_aws_metrics_requested_total",
            "Metrics requested from CloudWatch GetMetricData (what it is billed by).",
            ["tenant"],
            registry=registry,
        )
        self.spend = Counter(
            "spendsense_aws_estimated_spend_dollars_total",
            "Estimated AWS charges caused by watching this tenant (GetMetricData, Cost Explorer).",
            ["tenant"],
            registry=registry,
        )

    def aws_call(self, tenant: str, service: str, operation: str) -> None:
        """Count one call; Cost Explorer calls add their price to the tenant's spend."""
        self.aws_calls.labels(tenant=tenant, service=service, operation=operation).inc()
        if service == "ce":
            self.spend.labels(tenant=tenant).inc(COST_EXPLORER_USD_PER_REQUEST)

    def metrics_requested(self, tenant: str, count: int) -> None:
        """Count metrics asked of GetMetricData and their price."""
        self.requested.labels(tenant=tenant).inc(count)
        self.spend.labels(tenant=tenant).inc(count * GET_METRIC_DATA_USD_PER_METRIC)


class IngestMetrics(AwsUsageMetrics):
    """Counters and gauges of one collector process (registry passed in)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.records = Counter(
            "spendsense_ingest_records_published_total",
            "Records confirmed by the broker, by topic.",
            ["tenant", "topic"],
            registry=registry,
        )
        self.collected = Counter(
            "spendsense_ingest_records_collected_total",
            "Records built from AWS answers, by collector.",
            ["tenant", "collector"],
            registry=registry,
        )
        self.errors = Counter(
            "spendsense_ingest_errors_total",
            "Collection errors by kind (an AWS error code, or throttled, delivery...).",
            ["tenant", "kind"],
            registry=registry,
        )
        self.account_status = Gauge(
            "spendsense_ingest_account_status",
            "1 for the account's current status (pending, ok, error), 0 for the others.",
            ["tenant", "account", "status"],
            registry=registry,
        )
        self.last_success = Gauge(
            "spendsense_ingest_account_last_success_timestamp_seconds",
            "When the account was last collected without an error (Unix time).",
            ["tenant", "account"],
            registry=registry,
        )
        self.cycle_seconds = Histogram(
            "spendsense_ingest_account_cycle_seconds",
            "Time to collect one account once.",
            registry=registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
        )
        self.lag = Gauge(
            "spendsense_ingest_metrics_lag_seconds",
            "Age of the oldest instance cursor of the tenant (how far behind metrics are).",
            ["tenant"],
            registry=registry,
        )

    def set_status(self, tenant: str, account: str, status: str) -> None:
        """Show one account's status as a one-hot gauge, and when it was last ok."""
        for value in ACCOUNT_STATUS_VALUES:
            self.account_status.labels(tenant=tenant, account=account, status=value).set(
                1.0 if value == status else 0.0
            )
        if status == "ok":
            self.last_success.labels(tenant=tenant, account=account).set(time.time())
