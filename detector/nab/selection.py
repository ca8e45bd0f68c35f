"""Leave-one-category-out (LOCO) choice of the detector's parameters and its threshold.

For each NAB category, the parameter set and the one detection threshold are the pair that
maximises the mean score over the *other* categories; the held-out category is then scored
with that pair. Its own files and windows never enter its choice.

A category's score is NAB's normalised score over its files. A category without windows
(``artificialNoAnomaly``) has no perfect-minus-null span, so each of its files counts as one
window's span (``tp + fn``) and it scores ``100 + 100 * raw / span``: 100 with no false
positive, less for each.

Score streams come in as ``streams[params][file]`` (one score per row), so each parameter set
costs one pass over the files (see :func:`stream_grid`); everything else here is sums.

>>> standard = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
>>> quiet, loud = (("scale", 1.0),), (("scale", 2.0),)
>>> streams = {quiet: {"a/1": [0.0] * 9 + [0.9], "b/1": [0.0] * 10},
...            loud: {"a/1": [0.0] * 8 + [0.9, 0.9], "b/1": [0.0] * 5 + [0.9] * 5}}
>>> windows = {"a/1": [(8, 9)], "b/1": [(5, 9)]}
>>> table = RawTable.build(streams, windows, [standard], thresholds=(0.5,))
>>> held_out = table.loco(standard)
>>> held_out["a"].params == loud, held_out["b"].params == loud   # b's choice is made on a
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detector.nab.scorer import Profile, Window, normalised, score_hits

Params = tuple[tuple[str, float], ...]
"""A parameter set as sorted ``(name, value)`` pairs (hashable; ``dict(params)`` gives kwargs)."""


def category(name: str) -> str:
    """The category of a file named ``<category>/<file>.csv``.

    >>> category("realTraffic/speed_t4013.csv")
    'realTraffic'
    """
    return name.split("/", 1)[0]


def stream_grid(
    grid: Iterable[Params],
    files: Sequence[str],
    stream: Callable[[Params, str], Sequence[float]],
) -> dict[Params, dict[str, Sequence[float]]]:
    """``stream(params, file)`` for every parameter set and file, each computed once."""
    return {params: {name: stream(params, name) for name in files} for params in grid}


@dataclass(frozen=True)
class Choice:
    """A parameter set and threshold, and the mean category score they were chosen for."""

    params: Params
    threshold: float
    objective: float


@dataclass(frozen=True)
class RawTable:
    """Raw NAB score of every (parameter set, threshold, profile) on every file."""

    raw: dict[tuple[Params, float, str], dict[str, float]]
    windows: dict[str, int]
    """Windows per file."""
    order: list[tuple[Params, float]]
    """Grid order (ties go to the earliest)."""

    @classmethod
    def build(
        cls,
        streams: Mapping[Params, Mapping[str, Sequence[float]]],
        windows: Mapping[str, list[Window]],
        profiles: Sequence[Profile],
        thresholds: Sequence[float],
    ) -> RawTable:
        """Score every stream at every threshold under every profile."""
        raw: dict[tuple[Params, float, str], dict[str, float]] = {}
        counts: dict[str, int] = {}
        for params, files in streams.items():
            for name, values in files.items():
                scores = np.asarray(values, dtype=float)
                spans = windows.get(name, [])
                counts[name] = len(spans)
                for threshold in thresholds:
                    hits = np.flatnonzero(scores >= threshold).tolist()
                    for profile in profiles:
                        result = score_hits(hits, len(scores), spans, profile)
                        raw.setdefault((params, threshold, profile.name), {})[name] = result.raw
        order = [(params, threshold) for params in streams for threshold in thresholds]
        return cls(raw, counts, order)

    def categories(self) -> list[str]:
        """The categories of the files scored, sorted."""
        return sorted({category(name) for name in self.windows})

    def category_score(
        self, params: Params, threshold: float, profile: Profile, name: str
    ) -> float:
        """The normalised score of category ``name`` (see the module's note on no windows)."""
        files = [f for f in self.windows if category(f) == name]
        raw = sum(self.raw[(params, threshold, profile.name)][f] for f in files)
        windows = sum(self.windows[f] for f in files)
        if windows:
            return normalised(raw, windows, profile)
        return 100.0 + 100.0 * raw / ((profile.tp + profile.fn) * len(files))

    def choose(self, profile: Profile, on: Sequence[str]) -> Choice:
        """The parameter set and threshold with the best mean score over categories ``on``."""
        best: Choice | None = None
        for params, threshold in self.order:
            mean = sum(self.category_score(params, threshold, profile, c) for c in on) / len(on)
            if best is None or mean > best.objective:
                best = Choice(params, threshold, mean)
        if best is None:
            raise ValueError("an empty grid: give at least one parameter set and threshold")
        return best

    def loco(self, profile: Profile) -> dict[str, Choice]:
        """For each category, the choice made on all the other categories."""
        every = self.categories()
        return {held: self.choose(profile, [c for c in every if c != held]) for held in every}
