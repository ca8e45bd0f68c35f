"""The trace-fleet loader: a written fleet loads back as written; malformed folders fail in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sandbox.fleet import STEP, Fleet, FleetInstance, Trace, load_fleet, write_fleet
from spendsense.errors import ConfigError

START = datetime(2026, 11, 1, tzinfo=UTC)
POINTS = 48


def small_fleet() -> Fleet:
    """Two instances: one busy (never idle), one idle from its 24th point."""
    rng = np.random.default_rng(7)
    instances: dict[str, FleetInstance] = {}
    traces: dict[str, Trace] = {}
    for n, iid in enumerate(("i-0aaa", "i-0bbb")):
        instances[iid] = FleetInstance(
            instance_id=iid,
            account_id="111111111111",
            tenant="acme",
            region="us-east-1",
            instance_type="t3.micro",
            launch_time=START - timedelta(days=3),
            lifecycle="on-demand",
            root_device_type="ebs",
            asg_name=None,
            kind="test",
            state="running",
            tags={"Name": f"box-{n}"},
        )
        traces[iid] = Trace(
            START + STEP * n,
            np.round(rng.uniform(0, 100, POINTS), 3),
            np.round(rng.uniform(0, 1e6, POINTS)),
            np.round(rng.uniform(0, 1e6, POINTS)),
        )
    labels = {"i-0aaa": None, "i-0bbb": START + STEP * 24}
    return Fleet(None, instances, traces, labels)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "fleet"
    write_fleet(small_fleet(), out)
    return out


def test_round_trip_keeps_every_field_and_value(folder: Path) -> None:
    original = small_fleet()
    loaded = load_fleet(folder)
    assert loaded.instances == original.instances
    assert loaded.labels == original.labels
    for iid, trace in original.traces.items():
        got = loaded.traces[iid]
        assert got.start == trace.start
        np.testing.assert_allclose(got.cpu_percent, trace.cpu_percent, atol=5e-4)
        np.testing.assert_array_equal(got.network_in_bytes, trace.network_in_bytes)
        np.testing.assert_array_equal(got.network_out_bytes, trace.network_out_bytes)
    assert loaded.start == START
    assert loaded.end == START + STEP * POINTS


def _rewrite_csv(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def _edit_json(path: Path, edit: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def _drop_row(lines: list[str]) -> list[str]:
    return lines[:10] + lines[11:]


CASES = [
    ("missing instances", lambda f: (f / "instances.json").unlink(), "instances.json: missing"),
    ("missing labels", lambda f: (f / "labels.json").unlink(), "labels.json: missing"),
    ("missing csv", lambda f: (f / "i-0bbb.csv").unlink(), "i-0bbb.csv: missing"),
    (
        "bad header",
        lambda f: _rewrite_csv(f / "i-0aaa.csv", lambda ls: ["time,cpu,in,out", *ls[1:]]),
        "i-0aaa.csv: header must be",
    ),
    (
        "gap in rows",
        lambda f: _rewrite_csv(f / "i-0aaa.csv", _drop_row),
        "rows must be exactly 5 minutes apart",
    ),
    (
        "off-grid timestamps",
        lambda f: _rewrite_csv(
            f / "i-0aaa.csv", lambda ls: [ls[0]] + [r.replace(":00Z", ":30Z") for r in ls[1:]]
        ),
        "not on a 5-minute boundary",
    ),
    (
        "local timestamps",
        lambda f: _rewrite_csv(
            f / "i-0aaa.csv", lambda ls: [ls[0], ls[1].replace("Z,", ","), *ls[2:]]
        ),
        "is not UTC ISO 8601",
    ),
    (
        "non-numeric value",
        lambda f: _rewrite_csv(
            f / "i-0aaa.csv", lambda ls: [*ls[:5], ls[5].rsplit(",", 1)[0] + ",lots", *ls[6:]]
        ),
        "non-numeric value",
    ),
    (
        "cpu above 100",
        lambda f: _rewrite_csv(
            f / "i-0aaa.csv", lambda ls: [*ls[:5], "2026-11-01T00:20:00Z,180.0,1,1", *ls[6:]]
        ),
        "cpu_percent must be within 0-100",
    ),
    (
        "unknown instance in labels",
        lambda f: _edit_json(f / "labels.json", lambda d: {**d, "i-0zzz": None}),
        "label for unknown instance i-0zzz",
    ),
    (
        "instance without label",
        lambda f: _edit_json(f / "labels.json", lambda d: {"i-0aaa": None}),
        "no label for instance i-0bbb",
    ),
    (
        "label outside trace",
        lambda f: _edit_json(f / "labels.json", lambda d: {**d, "i-0bbb": "2027-01-01T00:00:00Z"}),
        "outside its trace",
    ),
    (
        "instance missing a field",
        lambda f: _edit_json(
            f / "instances.json", lambda d: [{k: v for k, v in d[0].items() if k != "region"}, d[1]]
        ),
        "missing field(s) region",
    ),
    (
        "bad lifecycle",
        lambda f: _edit_json(
            f / "instances.json", lambda d: [{**d[0], "lifecycle": "reserved"}, d[1]]
        ),
        "lifecycle must be one of",
    ),
    (
        "duplicate instance",
        lambda f: _edit_json(f / "instances.json", lambda d: [d[0], d[0], d[1]]),
        "listed twice",
    ),
    ("not json", lambda f: (f / "labels.json").write_text("{nope"), "labels.json: not valid JSON"),
]


@pytest.mark.parametrize(("name", "damage", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_folder_fails_with_one_line_naming_the_file(
    folder: Path, name: str, damage: Callable[[Path], object], message: str
) -> None:
    damage(folder)
    with pytest.raises(ConfigError) as raised:
        load_fleet(folder)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text
    assert str(folder) in text


def test_missing_folder_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="spendsense fleet generate"):
        load_fleet(tmp_path / "nowhere")
