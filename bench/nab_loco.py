"""NAB by category, honestly: each category scored with parameters chosen on the others.

For every parameter set of :data:`GRID` the detector streams each file once; then, for each
category and each cost profile, :class:`~detector.nab.selection.RawTable` picks the parameter
set and threshold (from :data:`THRESHOLDS`) with the best mean score over the *other*
categories, and scores the held-out category with them. The shipped defaults of
:class:`~detector.model.series.SeriesDetector` are scored on every category too, but that
figure is not held out: the defaults were chosen on all six categories (:func:`run_loco`
reports whether they still are the grid's choice on all of them).

>>> [dict(p) for p in grid({"fast": (0.1, 0.2), "cooldown": (50,)})]
[{'cooldown': 50, 'fast': 0.1}, {'cooldown': 50, 'fast': 0.2}]
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detector.model.series import SeriesDetector
from detector.nab.corpus import Series
from detector.nab.runner import stream_scores
from detector.nab.scorer import Profile, Window
from detector.nab.selection import Choice, Params, RawTable, stream_grid

GRID: dict[str, tuple[float, ...]] = {
    "fast": (0.1, 0.2, 0.4),
    "slow": (0.001, 0.002, 0.005),
    "cooldown": (50, 100, 150),
    "warmup": (150, 300),
}
"""The parameters searched (54 sets); the others keep their defaults. ``scale`` is left out:
with the threshold searched too it would only rescale the same detections."""
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
SELECTION_PROFILE = "standard"
"""The profile the shipped defaults are chosen under."""


def grid(axes: Mapping[str, Sequence[float]]) -> list[Params]:
    """Every combination of ``axes``, each as sorted ``(name, value)`` pairs."""
    names = sorted(axes)
    return [
        tuple(zip(names, values, strict=True))
        for values in itertools.product(*(axes[n] for n in names))
    ]


def shipped(axes: Mapping[str, Sequence[float]]) -> Params:
    """The shipped defaults of the searched parameters."""
    defaults = SeriesDetector()._get_params()
    return tuple((name, defaults[name]) for name in sorted(axes))


@dataclass(frozen=True)
class LocoReport:
    """Held-out choices and scores per category and profile, and the shipped defaults' scores."""

    profiles: list[Profile]
    held_out: dict[str, dict[str, tuple[Choice, float]]]
    """category -> profile name -> (choice made on the other categories, held-out score);
    empty with a single category."""
    shipped: Params
    threshold: float
    shipped_scores: dict[str, dict[str, float]]
    """category -> profile name -> score of the shipped defaults (not held out)."""
    chosen_on_all: Choice
    """The grid's choice on every category (the rule the shipped defaults follow)."""
    grid_size: int
    seconds: float


def run_loco(
    series: Mapping[str, Series],
    windows: Mapping[str, list[Window]],
    profiles: Sequence[Profile],
    axes: Mapping[str, Sequence[float]] = GRID,
    thresholds: Sequence[float] = THRESHOLDS,
) -> LocoReport:
    """Stream every file once per parameter set, then choose and score per held-out category."""
    began = time.perf_counter()
    candidates = grid(axes)
    ships = shipped(axes)
    streams = stream_grid(
        dict.fromkeys([*candidates, ships]),
        sorted(series),
        lambda params, name: stream_scores(series[name], SeriesDetector().clone(dict(params))),
    )
    table = RawTable.build({p: streams[p] for p in candidates}, windows, profiles, thresholds)
    threshold = SeriesDetector().alert
    ship_table = RawTable.build({ships: streams[ships]}, windows, profiles, (threshold,))
    categories = table.categories()
    held_out: dict[str, dict[str, tuple[Choice, float]]] = {}
    for profile in profiles if len(categories) > 1 else ():
        for name, choice in table.loco(profile).items():
            score = table.category_score(choice.params, choice.threshold, profile, name)
            held_out.setdefault(name, {})[profile.name] = (choice, score)
    selection = next(p for p in profiles if p.name == SELECTION_PROFILE)
    return LocoReport(
        profiles=list(profiles),
        held_out=held_out,
        shipped=ships,
        threshold=threshold,
        shipped_scores={
            c: {p.name: ship_table.category_score(ships, threshold, p, c) for p in profiles}
            for c in categories
        },
        chosen_on_all=table.choose(selection, categories),
        grid_size=len(candidates),
        seconds=time.perf_counter() - began,
    )
