"""``resources.json`` and ``resources/<id>.csv``: the resources of a trace fleet on disk.

``resources.json`` is a JSON list, one object per resource: ``kind`` (one of
:data:`spendsense.events.RESOURCE_KINDS`), ``resource_id`` (a load balancer's and a
database's is its ARN, ``arn:aws:rds:<region>:<account_id>:db:<identifier>``), ``tenant``,
``account_id``, ``region``, ``name``, ``tags`` (string to string), ``facts`` (the kind's own, see
:mod:`sandbox.fleet.resources`) and ``label``: ``waste`` (bool, at the end of the horizon),
``reason``, ``since`` (UTC ISO 8601 or null: from when the rules call it waste) and
``monthly_usd`` (what it costs a month). A metric kind's resource has a CSV in
``resources/`` with header ``timestamp,<metric>,...`` (:data:`~sandbox.fleet.layout.RESOURCE_METRICS`),
one row every 5 minutes. A fleet without ``resources.json`` has no resources.

>>> from datetime import UTC, datetime
>>> label = ResourceLabel(True, "unattached for 3 days", 40.0, datetime(2026, 11, 2, tzinfo=UTC))
>>> r = FleetResource("ebs-volume", "vol-0abc", "acme", "111111111111", "us-east-1", "data",
...                   label, {"team": "ml"}, {"size_gb": 500, "state": "available"})
>>> resource_from_record(resource_record(r), "x") == r
True
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sandbox.fleet.layout import (
    RESOURCE_METRICS,
    RESOURCES_DIR,
    RESOURCES_FILE,
    parse_utc,
    series_file,
    utc_text,
)
from sandbox.fleet.model import STEP_SECONDS, FleetResource, ResourceLabel, ResourceSeries
from spendsense.errors import ConfigError
from spendsense.events import RESOURCE_KINDS

_FIELDS = ("kind", "resource_id", "tenant", "account_id", "region", "name", "tags", "facts")


def resource_record(resource: FleetResource) -> dict[str, object]:
    """The JSON object ``resources.json`` holds for one resource."""
    label = resource.label
    return {
        "kind": resource.kind,
        "resource_id": resource.resource_id,
        "tenant": resource.tenant,
        "account_id": resource.account_id,
        "region": resource.region,
        "name": resource.name,
        "tags": dict(sorted(resource.tags.items())),
        "facts": dict(sorted(resource.facts.items())),
        "label": {
            "waste": label.waste,
            "reason": label.reason,
            "since": utc_text(label.since) if label.since is not None else None,
            "monthly_usd": round(label.monthly_usd, 4),
        },
    }


def _label(raw: object, where: str) -> ResourceLabel:
    if not isinstance(raw, dict) or not isinstance(raw.get("waste"), bool):
        raise ConfigError(f"{where}: label must be an object with waste (true/false)")
    usd = raw.get("monthly_usd")
    if not isinstance(usd, int | float) or usd < 0:
        raise ConfigError(f"{where}: label monthly_usd must be a number >= 0")
    since = raw.get("since")
    when = None if since is None else parse_utc(since, f"{where} label since")
    if raw["waste"] and when is None:
        raise ConfigError(f"{where}: a waste label needs since (when it became waste)")
    return ResourceLabel(raw["waste"], str(raw.get("reason", "")), float(usd), when)


def resource_from_record(record: object, where: str) -> FleetResource:
    """One ``resources.json`` entry as a :class:`FleetResource`; ConfigError on a bad one."""
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object per resource")
    missing = [k for k in (*_FIELDS, "label") if k not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
    if record["kind"] not in RESOURCE_KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(RESOURCE_KINDS)}")
    for key in ("resource_id", "account_id", "region"):
        if not isinstance(record[key], str) or not record[key]:
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    db_prefix = f"arn:aws:rds:{record['region']}:{record['account_id']}:db:"
    if record["kind"] == "rds-instance" and not record["resource_id"].startswith(db_prefix):
        raise ConfigError(f"{where}: a database's resource_id must be its ARN, {db_prefix}<name>")
    tags = record["tags"]
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ConfigError(f"{where}: tags must be an object of string to string")
    if not isinstance(record["facts"], dict):
        raise ConfigError(f"{where}: facts must be an object")
    return FleetResource(
        kind=record["kind"],
        resource_id=record["resource_id"],
        tenant=str(record["tenant"]),
        account_id=record["account_id"],
        region=record["region"],
        name=str(record["name"]),
        label=_label(record["label"], where),
        tags=dict(tags),
        facts=dict(record["facts"]),
    )


def series_text(series: ResourceSeries, metrics: tuple[str, ...]) -> str:
    """The CSV text of one resource's metrics, header included (values to 3 decimals)."""
    first = np.datetime64(utc_text(series.start)[:-1], "s")
    stamps = first + np.arange(len(series)) * np.timedelta64(STEP_SECONDS, "s")
    times = np.datetime_as_string(stamps, unit="s").tolist()
    columns = [np.round(series.columns[m], 3).tolist() for m in metrics]
    rows = [
        f"{t}Z," + ",".join(format(v, ".3f").rstrip("0").rstrip(".") for v in values)
        for t, *values in zip(times, *columns, strict=True)
    ]
    return ",".join(("timestamp", *metrics)) + "\n" + "\n".join(rows) + "\n"


def write_resources(
    resources: dict[str, FleetResource], series: dict[str, ResourceSeries], out: Path
) -> None:
    """Write ``resources.json`` and the metric CSVs into fleet folder ``out``."""
    if not resources:
        return
    folder = out / RESOURCES_DIR
    folder.mkdir(exist_ok=True)
    for rid, one in series.items():
        metrics = RESOURCE_METRICS[resources[rid].kind]
        (folder / series_file(rid)).write_text(series_text(one, metrics))
    records = [resource_record(r) for r in resources.values()]
    (out / RESOURCES_FILE).write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


def _series(path: Path, metrics: tuple[str, ...]) -> ResourceSeries:
    if not path.is_file():
        raise ConfigError(f"{path}: missing (every {', '.join(RESOURCE_METRICS)} needs its CSV)")
    header, _, body = path.read_text().replace("\r\n", "\n").partition("\n")
    want = ",".join(("timestamp", *metrics))
    if header.strip() != want:
        raise ConfigError(f"{path}: header must be {want!r}")
    rows = [row.split(",") for row in body.strip().split("\n") if row]
    if not rows:
        raise ConfigError(f"{path}: no data rows")
    bad = next((n for n, row in enumerate(rows, 2) if len(row) != len(metrics) + 1), None)
    if bad is not None:
        raise ConfigError(f"{path}: row {bad} has the wrong number of fields")
    if not all(row[0].endswith("Z") for row in rows):
        raise ConfigError(f"{path}: timestamps must be UTC ISO 8601 like 2026-11-01T00:05:00Z")
    try:
        stamps = np.array([row[0][:-1] for row in rows], dtype="datetime64[s]").astype(np.int64)
        values = np.array([row[1:] for row in rows], dtype=np.float64).T
    except ValueError as exc:
        raise ConfigError(f"{path}: bad timestamp or value ({exc})") from None
    if stamps[0] % STEP_SECONDS or np.any(np.diff(stamps) != STEP_SECONDS):
        raise ConfigError(f"{path}: rows must be exactly 5 minutes apart, on the 5-minute grid")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ConfigError(f"{path}: values must be finite numbers >= 0")
    start = datetime.fromtimestamp(int(stamps[0]), tz=UTC)
    return ResourceSeries(start, {m: values[n].copy() for n, m in enumerate(metrics)})


def load_resources(folder: Path) -> tuple[dict[str, FleetResource], dict[str, ResourceSeries]]:
    """The resources of fleet ``folder`` and their metrics; none without ``resources.json``."""
    path = folder / RESOURCES_FILE
    if not path.exists():
        return {}, {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of resources")
    resources: dict[str, FleetResource] = {}
    for n, record in enumerate(data):
        resource = resource_from_record(record, f"{path} entry {n}")
        if resource.resource_id in resources:
            raise ConfigError(f"{path}: resource {resource.resource_id} is listed twice")
        resources[resource.resource_id] = resource
    series = {
        rid: _series(folder / RESOURCES_DIR / series_file(rid), RESOURCE_METRICS[r.kind])
        for rid, r in resources.items()
        if r.kind in RESOURCE_METRICS
    }
    return resources, series
