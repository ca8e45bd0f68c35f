"""The pipeline's health on the monitoring page, from the API's own Prometheus queries.

Tenant isolation: series labelled with a tenant are selected by the caller's tenant only,
and the per-account figures are kept only for accounts the store lists for that tenant.
Fleet-wide series (the detector's lag, the model service's errors) carry no tenant label
and are shown as sums over every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from api.schemas.monitoring import ConsumerLag, ErrorRate, LastCollection, PipelineHealth
from api.services.prometheus import PrometheusQueries, label_value
from spendsense.errors import ServiceError
from spendsense.settings import Settings

RATE_WINDOW = "5m"

# (what the page calls it, the counter's selector; {tenant} is the caller's tenant)
ERROR_COUNTERS = (
    ("Collection errors (your accounts)", "spendsense_ingest_errors_total{{tenant={tenant}}}"),
    ("Alert e-mail errors (yours)", "spendsense_actions_ses_errors_total{{tenant={tenant}}}"),
    ("Detector errors", "spendsense_detector_errors_total"),
    ("Model service errors", "spendsense_model_errors_total"),
    ("Records dead-lettered", "spendsense_detector_dead_letters_total"),
)


def error_rate_query(selector: str) -> str:
    """Errors a minute over :data:`RATE_WINDOW`, summed over every series of ``selector``.

    >>> error_rate_query("spendsense_model_errors_total")
    'sum(rate(spendsense_model_errors_total[5m])) * 60'
    """
    return f"sum(rate({selector}[{RATE_WINDOW}])) * 60"


def consumer_lags(prom: PrometheusQueries, settings: Settings, tenant: str) -> list[ConsumerLag]:
    """The detector's group in records, the projector's in seconds, and how far behind
    the collector is with the caller's own metrics."""
    detector_group = f"{settings.kafka.topic_prefix}{settings.detector.app_id}"
    return [
        ConsumerLag(
            group=detector_group,
            value=prom.value("sum(spendsense_detector_consumer_lag_records)"),
            unit="records",
        ),
        ConsumerLag(
            group=settings.api.projector_group_id,
            value=prom.value("max(spendsense_projector_batch_lag_seconds)"),
            unit="seconds",
        ),
        ConsumerLag(
            group="collector (your metrics)",
            value=prom.value(f"max(spendsense_ingest_metrics_lag_seconds{{tenant={tenant}}})"),
            unit="seconds",
        ),
    ]


def last_collections(
    prom: PrometheusQueries, tenant: str, account_ids: Sequence[str]
) -> list[LastCollection]:
    """When each of ``account_ids`` was last collected without an error (None: not seen)."""
    samples = prom.vector(
        "max by (account) "
        f"(spendsense_ingest_account_last_success_timestamp_seconds{{tenant={tenant}}})"
    )
    seen = {s.labels.get("account"): s.value for s in samples}
    return [
        LastCollection(
            account_id=account,
            at=datetime.fromtimestamp(seen[account], UTC) if account in seen else None,
        )
        for account in account_ids
    ]


def pipeline_health(
    prom: PrometheusQueries, settings: Settings, tenant_id: str, account_ids: Sequence[str]
) -> PipelineHealth:
    """Lags, last collections and error rates; unreachable (one line) if a query fails."""
    tenant = label_value(tenant_id)
    try:
        return PipelineHealth(
            reachable=True,
            consumer_lag=consumer_lags(prom, settings, tenant),
            last_collection=last_collections(prom, tenant, account_ids),
            error_rates=[
                ErrorRate(
                    label=label,
                    per_minute=prom.value(error_rate_query(selector.format(tenant=tenant))) or 0.0,
                )
                for label, selector in ERROR_COUNTERS
            ],
        )
    except ServiceError as err:
        return PipelineHealth(reachable=False, message=str(err))
