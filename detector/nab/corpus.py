"""Reading a NAB-format folder: series CSVs, anomaly windows, cost profiles.

A series CSV has the header ``timestamp,value`` and timestamps ``YYYY-MM-DD HH:MM:SS``; rows
are kept in file order (NAB files may repeat a timestamp at a clock change). ``windows.json``
maps each file's path relative to the data folder to its ``[start, end]`` windows (both ends
included); ``profiles.json`` holds the cost profiles. Bad input raises
:class:`~spendsense.errors.ConfigError` with one line naming the file.

>>> series = Series("a.csv", ["2014-01-01 00:00:00", "2014-01-01 00:05:00",
...                           "2014-01-01 00:10:00", "2014-01-01 00:15:00"], [1.0, 2.0, 3.0, 4.0])
>>> series.window_rows([("2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000")])
[(1, 2)]
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from detector.nab.scorer import Profile, Window
from spendsense.errors import ConfigError

HEADER = ["timestamp", "value"]
_PROFILE_NAMES: dict[str, str] = {
    "standard": "standard",
    "reward_low_FP_rate": "low FP",
    "reward_low_FN_rate": "low FN",
}


def _parse_time(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: timestamp {text!r} is not like 2014-02-14 14:30:00") from None


@dataclass(frozen=True)
class Series:
    """One NAB series: its name (path relative to the data folder), timestamps and values."""

    name: str
    timestamps: list[str]
    values: list[float]

    def window_rows(self, windows: Sequence[tuple[str, str]]) -> list[Window]:
        """Each ``[start, end]`` window as the first and last row whose time lies in it."""
        times = [_parse_time(t, self.name) for t in self.timestamps]
        rows: list[Window] = []
        for start_text, end_text in windows:
            start = _parse_time(start_text, f"windows of {self.name}")
            end = _parse_time(end_text, f"windows of {self.name}")
            inside = [i for i, t in enumerate(times) if start <= t <= end]
            if inside:
                rows.append((inside[0], inside[-1]))
        return rows


def read_series(path: Path, name: str) -> Series:
    """Read one ``timestamp,value`` CSV."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != HEADER:
            raise ConfigError(f"{path}: header must be timestamp,value")
        timestamps: list[str] = []
        values: list[float] = []
        for n, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise ConfigError(f"{path}: row {n} has {len(row)} fields, expected 2")
            try:
                values.append(float(row[1]))
            except ValueError:
                raise ConfigError(f"{path}: row {n} value {row[1]!r} is not a number") from None
            timestamps.append(row[0])
    return Series(name, timestamps, values)


def read_folder(data: Path) -> list[Series]:
    """Every series CSV under ``data`` (recursively), sorted by relative path."""
    if not data.is_dir():
        raise ConfigError(f"{data}: not a folder (expected a NAB-format data folder)")
    paths = sorted(data.rglob("*.csv"))
    if not paths:
        raise ConfigError(f"{data}: no CSV files found")
    return [read_series(p, p.relative_to(data).as_posix()) for p in paths]


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def read_windows(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``windows.json``: relative file path -> list of ``(start, end)`` strings."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object of file -> windows")
    try:
        return {name: [(str(a), str(b)) for a, b in spans] for name, spans in data.items()}
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: each window must be a [start, end] pair") from None


def read_profiles(path: Path) -> list[Profile]:
    """``profiles.json``: NAB's cost profiles, with short display names."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object of profile -> CostMatrix")
    profiles = []
    for key, body in data.items():
        try:
            matrix = body["CostMatrix"]
            weights = (float(matrix["tpWeight"]), float(matrix["fpWeight"]))
            fn = float(matrix["fnWeight"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}: profile {key} needs CostMatrix tp/fp/fnWeight") from None
        profiles.append(Profile(_PROFILE_NAMES.get(str(key), str(key)), weights[0], weights[1], fn))
    return profiles
