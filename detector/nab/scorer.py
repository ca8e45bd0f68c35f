"""The project's own NAB scorer, written from the rules in ``shared/nab/README.md``.

A row is a *detection* when its anomaly score is at or above the threshold. Rows of the
probationary period (the first ``min(floor(0.15 * N), 750)``) are never scored. Inside a window
only the earliest detection counts, rewarded ``tp * s(y) / s(-1)`` where ``y`` is minus the rows
from the detection to the window's end (inclusive) over the window's length; a window without a
detection costs ``-fn``. Every detection outside the windows costs ``fp * s(y)``, with ``y`` the
rows since the previous window's end over that window's length minus one (``s`` is -1 once
``y > 3``, and before any window the cost is ``-fp``). Here ``s(y) = 2 / (1 + exp(5 y)) - 1``.

Windows are row ranges ``(first, last)``, both included, in file order.

>>> standard = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
>>> hits = [False] * 20
>>> hits[10] = True                                  # first row of the window (10, 14)
>>> score_rows(hits, [(10, 14)], standard, probation=0).raw
1.0
>>> score_rows([False] * 20, [(10, 14)], standard, probation=0).raw   # missed
-1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Window = tuple[int, int]


@dataclass(frozen=True)
class Profile:
    """A NAB cost profile: weights of a true positive, a false positive, a false negative."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class FileScore:
    """The raw score of one file and what made it."""

    raw: float
    windows: int
    detected: int
    false_rows: int


def sigmoid(y: float) -> float:
    """NAB's scaled sigmoid ``s(y) = 2 / (1 + exp(5 y)) - 1``: 1 far before, -1 far after.

    >>> sigmoid(0.0)
    0.0
    >>> round(sigmoid(-1.0), 4), round(sigmoid(1.0), 4)
    (0.9866, -0.9866)
    """
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(rows: int) -> int:
    """Rows at the start of a file that are never scored.

    >>> probation_rows(4032), probation_rows(10_000)
    (604, 750)
    """
    return min(math.floor(0.15 * rows), 750)


def _true_positive(row: int, window: Window, profile: Profile) -> float:
    first, last = window
    length = last - first + 1
    y = -(last - row + 1) / length
    return profile.tp * sigmoid(y) / sigmoid(-1.0)


def _false_positive(row: int, previous: Window | None, profile: Profile) -> float:
    if previous is None:
        return -profile.fp
    first, last = previous
    length = last - first + 1
    y = (row - last) / max(length - 1, 1)
    return profile.fp * (-1.0 if y > 3 else sigmoid(y))


def score_rows(
    detections: Sequence[bool],
    windows: Sequence[Window],
    profile: Profile,
    probation: int | None = None,
) -> FileScore:
    """Score one file's detections (one bool per row) against its windows (sorted, disjoint).

    ``probation`` defaults to :func:`probation_rows` of the file's length.
    """
    hits = [row for row, hit in enumerate(detections) if hit]
    return score_hits(hits, len(detections), windows, profile, probation)


def score_hits(
    hits: Sequence[int],
    rows: int,
    windows: Sequence[Window],
    profile: Profile,
    probation: int | None = None,
) -> FileScore:
    """:func:`score_rows` from the detected rows alone (ascending) in a file of ``rows`` rows.

    >>> standard = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
    >>> score_hits([3, 10, 11], 20, [(10, 14)], standard, probation=0)
    FileScore(raw=0.89, windows=1, detected=1, false_rows=1)
    """
    skip = probation_rows(rows) if probation is None else probation
    ordered = sorted(windows)
    raw = 0.0
    detected = 0
    false_rows = 0
    counted: set[int] = set()
    previous: Window | None = None
    w = 0
    for row in hits:
        while w < len(ordered) and row > ordered[w][1]:
            previous = ordered[w]
            w += 1
        if row < skip:
            continue
        inside = w < len(ordered) and ordered[w][0] <= row
        if inside:
            if w not in counted:
                counted.add(w)
                detected += 1
                raw += _true_positive(row, ordered[w], profile)
        else:
            false_rows += 1
            raw += _false_positive(row, previous, profile)
    raw -= profile.fn * (len(ordered) - detected)
    return FileScore(raw, len(ordered), detected, false_rows)


def normalised(raw: float, windows: int, profile: Profile) -> float:
    """``100 * (raw - null) / (perfect - null)``: 0 for the null detector, 100 for perfect.

    >>> standard = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
    >>> normalised(-30.0, 30, standard), normalised(30.0, 30, standard)
    (0.0, 100.0)
    """
    null = -profile.fn * windows
    perfect = profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    scores: Mapping[str, Sequence[float]],
    windows: Mapping[str, list[Window]],
    profile: Profile,
    threshold: float,
) -> float:
    """Normalised score over several files: rows at or above ``threshold`` are detections.

    >>> standard = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
    >>> scores = {"a": [0.0] * 10 + [0.9] + [0.0] * 9, "b": [0.0] * 20}
    >>> score_corpus(scores, {"a": [(10, 14)], "b": [(5, 9)]}, standard, 0.5)
    50.0
    """
    raw = 0.0
    count = 0
    for name, values in scores.items():
        detections = [v >= threshold for v in values]
        result = score_rows(detections, windows.get(name, []), profile)
        raw += result.raw
        count += result.windows
    return normalised(raw, count, profile)
