"""The NAB benchmark: the model's normalised scores beside NAB's published table.

The detection threshold is the detector's own ``alert`` level (0.5), chosen once on these files
and used for all three profiles. For reference the benchmark also reports, per profile, the
best threshold of a fixed grid, as NAB itself picks thresholds (optimistic: tuned on the test
files).

>>> rows = published_table("| detector | standard | low FP | low FN |\\n|---|---|---|---|\\n"
...                        "| Numenta HTM | 73.4 | 65.8 | 76.7 |\\n")
>>> rows
[('Numenta HTM', (73.4, 65.8, 76.7))]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detector.model.series import SeriesDetector
from detector.nab.corpus import Series, read_profiles, read_windows
from detector.nab.scorer import Profile, Window, score_corpus

THRESHOLD_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
OURS = "SpendSense (this model)"


@dataclass(frozen=True)
class NabReport:
    """Normalised scores per profile, at the fixed threshold and at the best grid threshold."""

    threshold: float
    profiles: list[Profile]
    fixed: list[float]
    best: list[tuple[float, float]]
    """(score, threshold) per profile."""
    files: int
    windows: int
    rows: int


def published_table(readme: str) -> list[tuple[str, tuple[float, float, float]]]:
    """The ``| detector | standard | low FP | low FN |`` rows of NAB's README."""
    rows = []
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not line.lstrip().startswith("|"):
            continue
        try:
            numbers = (float(cells[1]), float(cells[2]), float(cells[3]))
        except ValueError:
            continue
        rows.append((cells[0], numbers))
    return rows


def evaluate(
    results: dict[str, tuple[Series, list[float]]],
    windows_file: Path,
    profiles_file: Path,
    detector: SeriesDetector,
) -> NabReport:
    """Score streamed results (from :func:`detector.nab.runner.run_folder`)."""
    windows = read_windows(windows_file)
    profiles = read_profiles(profiles_file)
    scores = {name: values for name, (_, values) in results.items()}
    rows: dict[str, list[Window]] = {
        name: series.window_rows(windows.get(name, [])) for name, (series, _) in results.items()
    }
    fixed = [score_corpus(scores, rows, p, detector.alert) for p in profiles]
    best = [max((score_corpus(scores, rows, p, t), t) for t in THRESHOLD_GRID) for p in profiles]
    return NabReport(
        threshold=detector.alert,
        profiles=profiles,
        fixed=fixed,
        best=best,
        files=len(results),
        windows=sum(len(w) for w in rows.values()),
        rows=sum(len(v) for v in scores.values()),
    )


def table(report: NabReport, published: list[tuple[str, tuple[float, float, float]]]) -> str:
    """Our rows among the published ones, sorted by the standard profile."""
    ours = [
        (f"{OURS}, threshold {report.threshold:g}", tuple(report.fixed)),
        (
            "  (best grid threshold per profile: "
            + ", ".join(f"{t:g}" for _, t in report.best)
            + ")",
            tuple(s for s, _ in report.best),
        ),
    ]
    names = [p.name for p in report.profiles]
    lines = [f"{'detector':52s} " + " ".join(f"{n:>9s}" for n in names)]
    every = [(name, tuple(v)) for name, v in published] + ours
    for name, values in sorted(every, key=lambda row: -row[1][0]):
        marker = "*" if name in (ours[0][0], ours[1][0]) else " "
        lines.append(f"{marker}{name:51s} " + " ".join(f"{v:9.1f}" for v in values))
    return "\n".join(lines)
