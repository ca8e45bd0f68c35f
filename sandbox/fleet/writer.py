"""Write a :class:`~sandbox.fleet.model.Fleet` as a trace-fleet folder, byte for byte stable.

JSON is written with sorted keys and CPU with three decimals; network bytes are written
as integers (rounded), so the same fleet always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sandbox.fleet.layout import (
    ANOMALIES_FILE,
    CSV_HEADER,
    INSTANCES_FILE,
    LABELS_FILE,
    RESOURCES_DIR,
    RESOURCES_FILE,
    utc_text,
)
from sandbox.fleet.model import STEP_SECONDS, AnomalyWindow, Fleet, FleetInstance, Trace
from sandbox.fleet.resource_files import write_resources
from spendsense.errors import ConfigError


def instance_record(instance: FleetInstance) -> dict[str, object]:
    """The JSON object ``instances.json`` holds for one instance."""
    return {
        "instance_id": instance.instance_id,
        "account_id": instance.account_id,
        "tenant": instance.tenant,
        "region": instance.region,
        "instance_type": instance.instance_type,
        "launch_time": utc_text(instance.launch_time),
        "lifecycle": instance.lifecycle,
        "root_device_type": instance.root_device_type,
        "asg_name": instance.asg_name,
        "kind": instance.kind,
        "state": instance.state,
        "tags": dict(sorted(instance.tags.items())),
    }


def window_record(window: AnomalyWindow) -> dict[str, object]:
    """The JSON object ``anomalies.json`` holds for one labelled anomaly."""
    return {
        "kind": window.kind,
        "metric": window.metric,
        "start": utc_text(window.start),
        "end": utc_text(window.end),
        "added_cpu": window.added_cpu,
        "added_out_bytes": window.added_out_bytes,
    }


def trace_text(trace: Trace) -> str:
    """The CSV text of one trace, header included."""
    first = np.datetime64(utc_text(trace.start)[:-1], "s")
    stamps = first + np.arange(len(trace)) * np.timedelta64(STEP_SECONDS, "s")
    timestamps = np.datetime_as_string(stamps, unit="s").tolist()
    cpu = np.round(trace.cpu_percent, 3).tolist()
    net_in = np.rint(trace.network_in_bytes).astype(np.int64).tolist()
    net_out = np.rint(trace.network_out_bytes).astype(np.int64).tolist()
    rows = [
        f"{t}Z,{c:.3f},{i},{o}" for t, c, i, o in zip(timestamps, cpu, net_in, net_out, strict=True)
    ]
    return CSV_HEADER + "\n" + "\n".join(rows) + "\n"


def _prepare(out: Path) -> None:
    """Create ``out``, or empty it of an earlier fleet; refuse a folder holding other files."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; pick a new --out")
    out.mkdir(parents=True, exist_ok=True)
    present = list(out.iterdir())
    series = out / RESOURCES_DIR
    known = (INSTANCES_FILE, LABELS_FILE, ANOMALIES_FILE, RESOURCES_FILE)
    foreign = [
        p.name
        for p in [*present, *(series.iterdir() if series.is_dir() else [])]
        if p != series and (not p.is_file() or (p.suffix != ".csv" and p.name not in known))
    ]
    if foreign:
        raise ConfigError(
            f"{out}: holds {foreign[0]}, which is not part of a trace fleet; pick a new or empty --out"
        )
    for old in present:
        if old == series:
            for csv in old.iterdir():
                csv.unlink()
            old.rmdir()
        else:
            old.unlink()


def write_fleet(
    fleet: Fleet, out: Path, progress: Callable[[int, int], None] | None = None
) -> None:
    """Write ``fleet`` into folder ``out``, replacing an earlier fleet there.

    A folder that holds anything but a trace fleet raises ConfigError, so nothing else
    is overwritten. ``progress(done, total)`` is called every 50 traces written.
    """
    _prepare(out)
    total = len(fleet.traces)
    for done, (iid, trace) in enumerate(fleet.traces.items(), start=1):
        (out / f"{iid}.csv").write_text(trace_text(trace))
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total)
    labels = {
        iid: (utc_text(when) if when is not None else None) for iid, when in fleet.labels.items()
    }
    (out / LABELS_FILE).write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
    if fleet.anomalies:
        anomalies = {
            iid: [window_record(w) for w in windows] for iid, windows in fleet.anomalies.items()
        }
        (out / ANOMALIES_FILE).write_text(json.dumps(anomalies, indent=1, sort_keys=True) + "\n")
    write_resources(fleet.resources, fleet.series, out)
    # instances.json last: a folder that has it holds a complete fleet
    records = [instance_record(i) for i in fleet.instances.values()]
    (out / INSTANCES_FILE).write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
