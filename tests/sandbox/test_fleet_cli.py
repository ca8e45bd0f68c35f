"""``spendsense fleet generate|check``: deterministic per seed, loadable, and clear on bad input."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sandbox.fleet import load_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.workloads import KINDS
from spendsense.cli import main

SMALL = ["--instances", "24", "--days", "3"]


def generate(out: Path, seed: int, *extra: str) -> int:
    return main(["fleet", "generate", "--seed", str(seed), "--out", str(out), *SMALL, *extra])


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_fleet(tmp_path: Path) -> None:
    assert generate(tmp_path / "a", 5) == 0
    assert generate(tmp_path / "b", 5) == 0
    assert generate(tmp_path / "c", 6) == 0
    a, b, c = (contents(tmp_path / x) for x in "abc")
    assert len(a) == 24 + 2
    assert a == b
    assert set(a) != set(c)  # other instance ids
    assert a["labels.json"] != c["labels.json"]


def test_cli_round_trip_loads_what_the_generator_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fleet"
    assert generate(out, 9, "--tenants", "3", "--start", "2026-12-03T10:07:00Z") == 0
    assert "wrote 24 instances" in capsys.readouterr().out
    loaded = load_fleet(out)
    made = generate_fleet(
        FleetSpec(
            seed=9, instances=24, days=3, tenants=3, start=datetime(2026, 12, 3, 10, 7, tzinfo=UTC)
        )
    )
    assert loaded.instances == made.instances
    assert loaded.labels == made.labels
    assert loaded.start == datetime(2026, 12, 3, 10, 5, tzinfo=UTC)  # floored to the grid
    for iid, trace in made.traces.items():
        np.testing.assert_array_equal(loaded.traces[iid].cpu_percent, trace.cpu_percent)
        np.testing.assert_array_equal(loaded.traces[iid].network_out_bytes, trace.network_out_bytes)
    assert {i.account_id for i in loaded.instances.values()} <= {
        "111111111111",
        "222222222222",
        "333333333333",
    }

    assert main(["fleet", "check", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "24 instances" in summary and "2026-12-03T10:05:00Z" in summary
    made_kinds = Counter(i.kind for i in made.instances.values())
    assert set(made_kinds) == set(KINDS)  # 24 instances hold every kind
    for kind, count in made_kinds.items():
        assert f"\n  {kind}: {count}\n" in summary


def test_regenerating_into_a_fleet_folder_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    assert generate(out, 1) == 0
    assert generate(out, 2) == 0
    assert generate(tmp_path / "fresh", 2) == 0
    assert contents(out) == contents(tmp_path / "fresh")


def test_check_of_a_malformed_folder_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fleet"
    assert generate(out, 3) == 0
    capsys.readouterr()
    labels = json.loads((out / "labels.json").read_text())
    labels["i-0000000000000dead"] = None
    (out / "labels.json").write_text(json.dumps(labels))
    assert main(["fleet", "check", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "labels.json" in err and "i-0000000000000dead" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--instances", "0"], "--instances must be at least 1"),
        (["--tenants", "0"], "--tenants must be between 1 and 99"),
    ],
)
def test_bad_arguments_say_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["fleet", "generate", "--seed", "1", "--out", str(tmp_path / "f"), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_refuses_to_write_into_a_folder_holding_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert generate(tmp_path, 1) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_start_without_time_zone_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["fleet", "generate", "--seed", "1", "--out", "x", "--start", "2026-11-01T00:00:00"])
    assert "has no time zone" in capsys.readouterr().err
