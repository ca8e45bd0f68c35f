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


def _write(path: Path, jump_at: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for i in range(1200):
            value = 20 + 3 * math.sin(i / 9) + (40 if jump_at is not None and i >= jump_at else 0)
            writer.writerow([_stamp(i), f"{value:.3f}"])


def _nab_folder(root: Path) -> Path:
    """Two categories of 1,200-row series: level jumps inside their windows, and a flat one."""
    data = root / "data"
    _write(data / "realTest" / "jump.csv", 900)
    _write(data / "realTest" / "flat.csv", None)
    _write(data / "realOther" / "jump.csv", 1000)
    windows = {
        "realTest/jump.csv": [[_stamp(860) + ".000000", _stamp(980) + ".000000"]],
        "realTest/flat.csv": [],
        "realOther/jump.csv": [[_stamp(960) + ".000000", _stamp(1080) + ".000000"]],
    }
    (root / "windows.json").write_text(json.dumps(windows))
    profiles = {"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}}}
    (root / "profiles.json").write_text(json.dumps(profiles))
    return data


def test_nab_writes_scored_files_and_prints_held_out_and_shipped_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _nab_folder(tmp_path)
    out = tmp_path / "out"
    readme = tmp_path / "README.md"
    readme.write_text(
        "| detector | realTest | realOther |\n|---|---|---|\n| Numenta HTM | 71.5 | 80 |\n"
    )
    args = ["nab", "--data", str(data), "--out", str(out), "--published", str(readme)]
    assert main([*args, "--json", str(tmp_path / "r.json")]) == 0
    rows = list(csv.reader((out / "realTest" / "jump.csv").open()))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 1201
    scores = [float(r[2]) for r in rows[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[900:905]) >= 0.5, "the jump is detected when it happens"
    assert max(scores[:900]) < 0.5
    printed = capsys.readouterr().out
    assert "each held out" in printed and "71.5" in printed, "published figures beside ours"
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result["held_out"]) == {"realTest", "realOther"}
    assert result["published_standard"] == {"Numenta HTM": {"realTest": 71.5, "realOther": 80.0}}
    # the one window (rows 860-980) is found at row 900: y = -81/121; no false positive
    expected = 100 * (math.tanh(2.5 * 81 / 121) / math.tanh(2.5) + 1) / 2
    shipped = result["shipped"]["scores"]["realTest"]["standard"]
    assert shipped == pytest.approx(expected, abs=0.06)


def test_nab_refuses_a_folder_without_csv_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nab", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no CSV files" in capsys.readouterr().err
