"""Load and validate a trace-fleet folder.

Every problem raises :class:`spendsense.errors.ConfigError` with one line that names the
file and what is wrong (missing file, bad JSON, bad CSV header, a step that is not five
minutes, a label for an unknown instance, ...).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sandbox.fleet.layout import ANOMALIES_FILE, CSV_HEADER, INSTANCES_FILE, LABELS_FILE, parse_utc
from sandbox.fleet.model import (
    STEP,
    STEP_SECONDS,
    AnomalyWindow,
    Fleet,
    FleetInstance,
    FloatArray,
    Trace,
)
from sandbox.fleet.resource_files import load_resources
from spendsense.errors import ConfigError

_REQUIRED = (
    "instance_id",
    "account_id",
    "region",
    "instance_type",
    "launch_time",
    "lifecycle",
    "root_device_type",
    "tags",
)
_LIFECYCLES = ("on-demand", "spot")
_ROOT_DEVICES = ("ebs", "instance-store")


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise ConfigError(
            f"{path}: missing (a trace fleet needs {INSTANCES_FILE}, {LABELS_FILE} and one CSV per instance)"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def _instance(record: object, where: str) -> FleetInstance:
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object per instance")
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
    tags = record["tags"]
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ConfigError(f"{where}: tags must be an object of string to string")
    if record["lifecycle"] not in _LIFECYCLES:
        raise ConfigError(f"{where}: lifecycle must be one of {', '.join(_LIFECYCLES)}")
    if record["root_device_type"] not in _ROOT_DEVICES:
        raise ConfigError(f"{where}: root_device_type must be one of {', '.join(_ROOT_DEVICES)}")
    for key in ("instance_id", "account_id", "region", "instance_type"):
        if not isinstance(record[key], str) or not record[key]:
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    asg = record.get("asg_name", tags.get("aws:autoscaling:groupName"))
    return FleetInstance(
        instance_id=record["instance_id"],
        account_id=record["account_id"],
        tenant=str(record.get("tenant", record["account_id"])),
        region=record["region"],
        instance_type=record["instance_type"],
        launch_time=parse_utc(record["launch_time"], f"{where} launch_time"),
        lifecycle=record["lifecycle"],
        root_device_type=record["root_device_type"],
        asg_name=str(asg) if asg else None,
        kind=str(record.get("kind", "unknown")),
        state=str(record.get("state", "running")),
        tags=dict(tags),
    )


def _instances(folder: Path) -> dict[str, FleetInstance]:
    path = folder / INSTANCES_FILE
    data = _read_json(path)
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty JSON list of instances")
    instances: dict[str, FleetInstance] = {}
    for n, record in enumerate(data):
        instance = _instance(record, f"{path} entry {n}")
        if instance.instance_id in instances:
            raise ConfigError(f"{path}: instance {instance.instance_id} is listed twice")
        instances[instance.instance_id] = instance
    return instances


def _bad_row(rows: list[str], path: Path) -> ConfigError:
    """The error for the first row that is not ``<UTC timestamp>,<n>,<n>,<n>`` (slow path)."""
    for n, row in enumerate(rows, start=2):
        fields = row.split(",")
        if len(fields) != 4:
            return ConfigError(f"{path}: row {n} has {len(fields)} fields, expected 4")
        if not fields[0].endswith(("Z", "+00:00")):
            return ConfigError(
                f"{path}: row {n} timestamp {fields[0]!r} is not UTC ISO 8601 like 2026-11-01T00:05:00Z"
            )
    return ConfigError(f"{path}: rows must be <UTC timestamp>,<cpu>,<in>,<out>")


def _parse_rows(body: str, path: Path) -> tuple[np.ndarray, FloatArray]:
    """Timestamps (datetime64[s]) and a 3 x N value array from the CSV body.

    Fast path: one split of the whole body; rows are checked by counting separators.
    """
    rows = body.count("\n") + 1
    utc = body.count("Z,") + body.count("+00:00,")
    bare = body.replace("Z,", ",").replace("+00:00,", ",")
    flat = bare.replace("\n", ",").split(",")
    if utc != rows or len(flat) != 4 * rows:
        raise _bad_row(body.split("\n"), path)
    try:
        stamps = np.array(flat[0::4], dtype="datetime64[s]")
    except ValueError as exc:
        raise ConfigError(f"{path}: bad timestamp ({exc})") from None
    try:
        values = np.array([flat[1::4], flat[2::4], flat[3::4]], dtype=np.float64)
    except ValueError as exc:
        raise ConfigError(f"{path}: non-numeric value ({exc})") from None
    return stamps, values


def _check_grid(stamps: np.ndarray, path: Path) -> None:
    seconds = stamps.astype(np.int64)
    if seconds[0] % STEP_SECONDS:
        raise ConfigError(f"{path}: first timestamp {stamps[0]}Z is not on a 5-minute boundary")
    steps = np.diff(seconds)
    if steps.size and not np.all(steps == STEP_SECONDS):
        row = int(np.argmax(steps != STEP_SECONDS)) + 1
        raise ConfigError(
            f"{path}: row {row + 2} ({stamps[row]}Z) is {int(steps[row - 1])} s after the previous; "
            "rows must be exactly 5 minutes apart"
        )


def _trace(path: Path) -> Trace:
    if not path.is_file():
        raise ConfigError(f"{path}: missing (every instance in {INSTANCES_FILE} needs its CSV)")
    text = path.read_text()
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    header, _, body = text.partition("\n")
    if header.strip() != CSV_HEADER:
        raise ConfigError(f"{path}: header must be {CSV_HEADER!r}")
    body = body.strip()
    if not body:
        raise ConfigError(f"{path}: no data rows")
    stamps, values = _parse_rows(body, path)
    _check_grid(stamps, path)
    if not np.all(np.isfinite(values)):
        raise ConfigError(f"{path}: values must be finite numbers")
    cpu, net_in, net_out = values
    if np.any(cpu < 0) or np.any(cpu > 100):
        raise ConfigError(f"{path}: cpu_percent must be within 0-100")
    if np.any(net_in < 0) or np.any(net_out < 0):
        raise ConfigError(f"{path}: network bytes must not be negative")
    start = datetime.fromtimestamp(int(stamps[0].astype(np.int64)), tz=UTC)
    return Trace(start, cpu.copy(), net_in.copy(), net_out.copy())


def _labels(folder: Path, traces: dict[str, Trace]) -> dict[str, datetime | None]:
    path = folder / LABELS_FILE
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object {{instance_id: idle_since or null}}")
    unknown = sorted(set(data) - set(traces))
    if unknown:
        raise ConfigError(
            f"{path}: label for unknown instance {unknown[0]} (not in {INSTANCES_FILE})"
        )
    unlabelled = [iid for iid in traces if iid not in data]
    if unlabelled:
        raise ConfigError(
            f"{path}: no label for instance {unlabelled[0]} (use null when never idle)"
        )
    labels: dict[str, datetime | None] = {}
    for iid in traces:
        raw = data[iid]
        if raw is None:
            labels[iid] = None
            continue
        when = parse_utc(raw, f"{path} label of {iid}")
        trace = traces[iid]
        if not trace.start <= when <= trace.end:
            raise ConfigError(f"{path}: idle_since of {iid} ({raw}) is outside its trace")
        labels[iid] = when
    return labels


_METRICS = ("cpu_percent", "network_in_bytes", "network_out_bytes")


def _window(record: object, trace: Trace, where: str) -> AnomalyWindow:
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected an object with kind, metric, start and end")
    missing = [k for k in ("kind", "metric", "start", "end") if k not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
    if record["metric"] not in _METRICS:
        raise ConfigError(f"{where}: metric must be one of {', '.join(_METRICS)}")
    start, end = (
        parse_utc(record["start"], f"{where} start"),
        parse_utc(record["end"], f"{where} end"),
    )
    if not trace.start <= start < end <= trace.end + STEP:
        raise ConfigError(f"{where}: the window must lie inside its trace and end after it starts")
    try:
        added = float(record.get("added_cpu", 0.0)), float(record.get("added_out_bytes", 0.0))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: added_cpu and added_out_bytes must be numbers") from None
    return AnomalyWindow(str(record["kind"]), record["metric"], start, end, *added)


def _anomalies(folder: Path, traces: dict[str, Trace]) -> dict[str, tuple[AnomalyWindow, ...]]:
    """The labelled usage anomalies; none when the fleet has no ``anomalies.json``."""
    path = folder / ANOMALIES_FILE
    if not path.exists():
        return {}
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object {{instance_id: [windows]}}")
    out: dict[str, tuple[AnomalyWindow, ...]] = {}
    for iid, windows in data.items():
        if iid not in traces:
            raise ConfigError(
                f"{path}: anomaly of unknown instance {iid} (not in {INSTANCES_FILE})"
            )
        if not isinstance(windows, list):
            raise ConfigError(f"{path}: the anomalies of {iid} must be a list")
        trace = traces[iid]
        out[iid] = tuple(_window(w, trace, f"{path} {iid} #{n}") for n, w in enumerate(windows))
    return out


def load_fleet(path: Path | str) -> Fleet:
    """Load the trace fleet in folder ``path``; raises ConfigError on any malformed part."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(
            f"{folder}: no such trace-fleet folder (create one with `spendsense fleet generate`)"
        )
    instances = _instances(folder)
    traces = {iid: _trace(folder / f"{iid}.csv") for iid in instances}
    labels = _labels(folder, traces)
    resources, series = load_resources(folder)
    return Fleet(folder, instances, traces, labels, _anomalies(folder, traces), resources, series)
