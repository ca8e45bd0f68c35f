"""``spendsense nab`` on a small NAB-format folder made here: files written, scores printed."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from spendsense.cli import main

T0 = datetime(2014, 2, 14, 14, 30)


def _stamp(i: int) -> str:
    return (T0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")


def _nab_folder(root: Path) -> Path:
    """Two series of 1,200 rows; one has a level jump inside its window, one has no window."""
    data = root / "data" / "realTest"
    data.mkdir(parents=True)
    for name, jump in (("jump.csv", True), ("flat.csv", False)):
        with (data / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value"])
            for i in range(1200):
                value = 20 + 3 * math.sin(i / 9) + (40 if jump and i >= 900 else 0)
                writer.writerow([_stamp(i), f"{value:.3f}"])
    windows = {
        "realTest/jump.csv": [[_stamp(860) + ".000000", _stamp(980) + ".000000"]],
        "realTest/flat.csv": [],
    }
    (root / "windows.json").write_text(json.dumps(windows))
    profiles = {"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}}}
    (root / "profiles.json").write_text(json.dumps(profiles))
    return root / "data"


def test_nab_writes_scored_files_and_prints_the_normalised_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _nab_folder(tmp_path)
    out = tmp_path / "out"
    assert (
        main(["nab", "--data", str(data), "--out", str(out), "--json", str(tmp_path / "r.json")])
        == 0
    )
    rows = list(csv.reader((out / "realTest" / "jump.csv").open()))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 1201
    scores = [float(r[2]) for r in rows[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[900:905]) >= 0.5, "the jump is detected when it happens"
    assert max(scores[:900]) < 0.5
    printed = capsys.readouterr().out
    assert "SpendSense (this model), threshold 0.5" in printed
    result = json.loads((tmp_path / "r.json").read_text())
    # the one window (rows 860-980) is found at row 900: y = -81/121; no false positive
    expected = 100 * (math.tanh(2.5 * 81 / 121) / math.tanh(2.5) + 1) / 2
    assert result["scores"]["standard"] == pytest.approx(expected, abs=0.05)


def test_nab_refuses_a_folder_without_csv_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nab", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no CSV files" in capsys.readouterr().err
