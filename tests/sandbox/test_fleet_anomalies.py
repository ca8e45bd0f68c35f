"""Labelled usage anomalies in generated fleets: where the windows lie, what they change in
the trace, how they are written and read back, and that fleets without them stay as they were."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from sandbox.fleet import STEP, Fleet, load_fleet, write_fleet
from sandbox.fleet.anomalies import ANOMALY_KINDS
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.layout import ANOMALIES_FILE
from spendsense.errors import ConfigError

SPEC = FleetSpec(seed=31, instances=96, days=18, history_days=10)
WEEK = 7 * 288


@pytest.fixture(scope="module")
def plain() -> Fleet:
    return generate_fleet(SPEC)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate_fleet(FleetSpec(**{**SPEC.__dict__, "anomalies": 0.5}))


def test_windows_lie_in_the_live_part_of_never_idle_instances(fleet: Fleet) -> None:
    assert fleet.anomalies and {w.kind for ws in fleet.anomalies.values() for w in ws} == set(
        ANOMALY_KINDS
    )
    connected = fleet.start + timedelta(days=SPEC.history_days)
    for iid, windows in fleet.anomalies.items():
        trace = fleet.traces[iid]
        assert fleet.labels[iid] is None  # an idle instance does no work, anomalous or not
        for w in windows:
            assert trace.index_at(w.start) >= WEEK  # a week of the instance seen first
            assert connected < w.start < w.end <= trace.end + STEP
            assert w.hours >= 1.0


def test_an_anomaly_changes_its_trace_only_inside_its_window(plain: Fleet, fleet: Fleet) -> None:
    for iid, (w,) in fleet.anomalies.items():
        before, after = plain.traces[iid], fleet.traces[iid]
        inside = slice(after.index_at(w.start), after.index_at(w.end))
        changed = getattr(after, w.metric) - getattr(before, w.metric)
        outside = np.ones(len(after), dtype=bool)
        outside[inside] = False
        assert not changed[outside].any(), w.kind
        assert changed[inside].mean() > 0, w.kind
        if w.kind == "egress-surge":
            assert changed[inside].mean() == pytest.approx(w.added_out_bytes, rel=0.01)
        if w.kind == "runaway-cpu":
            assert after.cpu_percent[inside].min() >= 85.0
    untouched = [iid for iid in plain.traces if iid not in fleet.anomalies]
    for iid in untouched:
        assert np.array_equal(plain.traces[iid].cpu_percent, fleet.traces[iid].cpu_percent)
    assert plain.labels == fleet.labels and not plain.anomalies


def test_anomaly_labels_round_trip_and_a_fleet_without_them_has_no_file(
    plain: Fleet, fleet: Fleet, tmp_path: Path
) -> None:
    write_fleet(fleet, tmp_path / "with")
    assert load_fleet(tmp_path / "with").anomalies == fleet.anomalies
    write_fleet(plain, tmp_path / "without")
    assert not (tmp_path / "without" / ANOMALIES_FILE).exists()
    assert load_fleet(tmp_path / "without").anomalies == {}


def test_a_bad_anomaly_label_is_one_line_naming_the_file(fleet: Fleet, tmp_path: Path) -> None:
    write_fleet(fleet, tmp_path)
    path = tmp_path / ANOMALIES_FILE
    data = json.loads(path.read_text())
    iid = next(iter(data))
    data[iid][0]["end"] = data[iid][0]["start"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="window must lie inside its trace") as err:
        load_fleet(tmp_path)
    assert ANOMALIES_FILE in str(err.value) and "\n" not in str(err.value)
    data["i-0000000000000000"] = data.pop(iid)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="unknown instance i-0000000000000000"):
        load_fleet(tmp_path)


def test_the_share_of_anomalies_is_checked() -> None:
    with pytest.raises(ConfigError, match="--anomalies must be between 0 and 1"):
        generate_fleet(FleetSpec(seed=1, instances=4, days=2, anomalies=1.5))
