"""An instance's last 14 days of CPU and network, read from CloudWatch through the tenant's role.

One GetMetricData request (``CPUUtilization`` Average, ``NetworkIn`` and ``NetworkOut`` Sum,
5-minute periods, ``NextToken`` pages followed) made with the account's assumed role
(:class:`~spendsense.access.TenantSessions`), counted in the AWS call metrics; the answer
is kept per instance for ``TTL_S`` (5 minutes). An AWS error becomes the series' ``error``,
one line the page shows, and is not kept: access errors (the role, its permissions) as
:mod:`spendsense.access` words them, throttling and AWS-side failures by their error code,
timeouts and unreachable endpoints by botocore's exception class. Anything else propagates.

>>> network_bps(1500.0, 1500.0), network_bps(None, 10.0)
(10.0, None)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError, NoCredentialsError

from api.cache import TenantCache
from api.schemas.instance_detail import MetricSeries
from ingest.cloudwatch import PERIOD, align, clean_value, metric_data_results, metric_query
from ingest.faults import CONNECTION_ERRORS, client_fault
from ingest.metrics import AwsUsageMetrics
from spendsense.access import AccountRef, TenantSessions
from spendsense.aws import THROTTLING_CODES, AwsFactory
from spendsense.ec2_metrics import BY_NAME, CLOUDWATCH_NAMES
from spendsense.errors import TenantAccessError
from spendsense.metrics import CollectorRegistry

HISTORY = timedelta(days=14)
TTL_S = 300.0
KEPT_SERIES = 128  # about 250 KB each in memory: at most ~32 MB per API process
OPERATION = "GetMetricData"
RETRY = "try again in a few minutes"


def network_bps(in_bytes: float | None, out_bytes: float | None) -> float | None:
    """Network in + out per second over one period; ``None`` unless both are known."""
    if in_bytes is None or out_bytes is None:
        return None
    return round((in_bytes + out_bytes) / PERIOD.total_seconds(), 1)


def aws_trouble(exc: ClientError, region: str) -> str | None:
    """The line to show for a throttled or failed CloudWatch (or STS) answer, by error code;
    ``None`` for any other error.

    >>> err = ClientError({"Error": {"Code": "Throttling"}}, "GetMetricData")
    >>> aws_trouble(err, "eu-west-1")
    'AWS throttled the metrics request in eu-west-1 (Throttling): try again in a few minutes.'
    >>> aws_trouble(ClientError({"Error": {"Code": "ValidationError"}}, "GetMetricData"), "x")
    """
    fault = client_fault(exc, region, OPERATION)
    if fault is None:
        return None
    what = "throttled" if fault.code in THROTTLING_CODES else "failed"
    return f"AWS {what} the metrics request in {region} ({fault.code}): {RETRY}."


class MetricHistory:
    """Reads and keeps instances' 14-day CloudWatch series (thread-safe)."""

    def __init__(
        self,
        sessions: TenantSessions,
        usage: AwsUsageMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_datapoints: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.usage = usage
        self.clock = clock
        self.kept = TenantCache(ttl_s=TTL_S, max_entries=KEPT_SERIES)
        self.max_datapoints = max_datapoints

    @classmethod
    def build(cls, factory: AwsFactory, registry: CollectorRegistry) -> MetricHistory:
        """The API process's reader: its own role sessions, calls counted in ``registry``."""
        usage = AwsUsageMetrics(registry)
        sessions = TenantSessions(
            factory,
            on_call=lambda account, service, op: usage.aws_call(account.tenant_id, service, op),
        )
        return cls(sessions, usage)

    def window(self) -> tuple[datetime, datetime]:
        """The last 14 days of whole 5-minute periods."""
        end = align(self.clock())
        return end - HISTORY, end

    def unavailable(self, message: str) -> MetricSeries:
        """An empty series over the current window that says why."""
        start, end = self.window()
        return MetricSeries(
            start=start,
            end=end,
            period_s=int(PERIOD.total_seconds()),
            cpu_percent=[],
            network_bps=[],
            error=message,
        )

    def read(self, account: AccountRef, region: str, instance_id: str) -> MetricSeries:
        """The kept series of ``instance_id``, or a fresh one from CloudWatch; an AWS error
        as the series' ``error``."""
        key = f"{account.account_id}:{region}:{instance_id}"
        try:
            series: MetricSeries = self.kept.get(
                account.tenant_id, key, lambda: self._fetch(account, region, instance_id)
            )
        except TenantAccessError as err:
            return self.unavailable(err.message)
        except ClientError as exc:
            trouble = aws_trouble(exc, region)
            if trouble is None:
                raise
            return self.unavailable(trouble)
        except NoCredentialsError:
            return self.unavailable(
                "SpendSense has no AWS credentials of its own to assume the account's role with: "
                "give the API an instance role or set SPENDSENSE_AWS__ACCESS_KEY_ID and "
                "SPENDSENSE_AWS__SECRET_ACCESS_KEY."
            )
        except CONNECTION_ERRORS as exc:
            return self.unavailable(
                f"SpendSense could not reach AWS in {region} ({type(exc).__name__}): {RETRY}."
            )
        return series

    def _fetch(self, account: AccountRef, region: str, instance_id: str) -> MetricSeries:
        start, end = self.window()
        slots = int((end - start) / PERIOD)
        values: dict[str, list[float | None]] = {
            metric: [None] * slots for metric in CLOUDWATCH_NAMES
        }
        queries = [metric_query(f"m{n}", instance_id, m) for n, m in enumerate(CLOUDWATCH_NAMES)]
        with self.sessions.guard(account, region, OPERATION):
            cw = self.sessions.client(account, "cloudwatch", region)
            for result in metric_data_results(
                cw,
                queries,
                start,
                end,
                on_page=lambda: self.usage.metrics_requested(account.tenant_id, len(queries)),
                max_datapoints=self.max_datapoints,
            ):
                metric = CLOUDWATCH_NAMES[int(result["Id"][1:])]
                column = values[metric]
                for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                    slot = int((align(ts.astimezone(UTC)) - start) / PERIOD)
                    if 0 <= slot < slots:
                        column[slot] = clean_value(BY_NAME[metric].field, float(value))
        cpu = values["CPUUtilization"]
        return MetricSeries(
            start=start,
            end=end,
            period_s=int(PERIOD.total_seconds()),
            cpu_percent=[None if v is None else round(v, 3) for v in cpu],
            network_bps=[
                network_bps(i, o)
                for i, o in zip(values["NetworkIn"], values["NetworkOut"], strict=True)
            ],
        )
