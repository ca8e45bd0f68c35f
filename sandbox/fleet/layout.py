"""Names and text forms shared by the fleet writer and loader (the on-disk format).

>>> utc_text(parse_utc("2026-11-01T00:05:00+00:00", "x"))
'2026-11-01T00:05:00Z'
"""

from __future__ import annotations

from datetime import UTC, datetime

from spendsense.errors import ConfigError

INSTANCES_FILE = "instances.json"
LABELS_FILE = "labels.json"
ANOMALIES_FILE = "anomalies.json"
"""The labelled usage anomalies; optional (a fleet without any has none)."""
CSV_HEADER = "timestamp,cpu_percent,network_in_bytes,network_out_bytes"
RESOURCES_FILE = "resources.json"
"""The resources other than instances, each with its label; optional (older fleets have none)."""
RESOURCES_DIR = "resources"
"""The folder of per-resource metric CSVs, ``resources/<resource id>.csv`` (``/`` and ``:``
of an ARN written as ``_``: :func:`series_file`)."""
RESOURCE_METRICS: dict[str, tuple[str, ...]] = {
    "nat-gateway": ("BytesOutToDestination", "ActiveConnectionCount"),
    "load-balancer": ("RequestCount", "ProcessedBytes", "HealthyHostCount"),
    "rds-instance": ("DatabaseConnections",),
}
"""The CloudWatch metrics each metric kind's CSV holds, in column order after ``timestamp``."""


def series_file(resource_id: str) -> str:
    """The CSV file name of a resource's metrics inside :data:`RESOURCES_DIR`.

    >>> series_file("arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/0a1b")
    'arn_aws_elasticloadbalancing_us-east-1_111111111111_loadbalancer_app_web_0a1b.csv'
    """
    return resource_id.replace(":", "_").replace("/", "_") + ".csv"


def utc_text(when: datetime) -> str:
    """``when`` as UTC ISO 8601 with a ``Z`` suffix, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: object, where: str) -> datetime:
    """An ISO 8601 timestamp with a time zone, as an aware UTC datetime.

    Raises :class:`ConfigError` naming ``where`` when the text is not one.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{where}: expected an ISO 8601 UTC timestamp, got {text!r}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        raise ConfigError(
            f"{where}: timestamp {text!r} has no time zone (write it in UTC, e.g. ...Z)"
        )
    return when.astimezone(UTC)
