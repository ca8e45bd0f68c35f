"""Streaming NAB series through the model and writing ``timestamp,value,anomaly_score`` files.

Each series goes through a fresh clone of the same per-metric detector the instance model uses
(:class:`~detector.model.series.SeriesDetector`), one row at a time, ``score_one`` before
``learn_one``: nothing is known about a row's future, nor the file's range.

>>> from detector.nab.corpus import Series
>>> s = Series("x.csv", [f"2014-01-01 00:{m:02d}:00" for m in range(0, 60, 5)], [1.0] * 12)
>>> scores = stream_scores(s, SeriesDetector(warmup=5))
>>> len(scores), max(scores) < 0.99
(12, True)
"""

from __future__ import annotations

import csv
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from detector.model.series import SeriesDetector
from detector.nab.corpus import Series, read_folder


def stream_scores(series: Series, template: SeriesDetector) -> list[float]:
    """One anomaly score per row, the model learning as it goes."""
    detector = template.clone()
    scores = []
    for value in series.values:
        x: dict[Hashable, Any] = {"value": value}
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


def write_scores(series: Series, scores: list[float], out: Path) -> Path:
    """Write ``timestamp,value,anomaly_score`` for ``series`` under ``out`` (same relative path)."""
    path = out / series.name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for row in zip(series.timestamps, series.values, scores, strict=True):
            writer.writerow([row[0], repr(row[1]), repr(row[2])])
    return path


def run_folder(
    data: Path, out: Path | None, template: SeriesDetector
) -> dict[str, tuple[Series, list[float]]]:
    """Score every series under ``data``; write result files under ``out`` when given."""
    results = {}
    for series in read_folder(data):
        scores = stream_scores(series, template)
        if out is not None:
            write_scores(series, scores, out)
        results[series.name] = (series, scores)
    return results
