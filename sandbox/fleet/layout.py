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
