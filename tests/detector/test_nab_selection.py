"""The leave-one-category-out protocol: a category's choice never depends on its own files."""

from __future__ import annotations

import random

from detector.nab.scorer import Profile, Window
from detector.nab.selection import Params, RawTable

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
EARLY: Params = (("cooldown", 50),)
LATE: Params = (("cooldown", 150),)
FILES = ("a/1.csv", "a/2.csv", "b/1.csv", "c/1.csv", "c/2.csv")


def _fires_at(row: int) -> list[float]:
    return [0.9 if r == row else 0.0 for r in range(200)]


STREAMS = {
    EARLY: {name: _fires_at(100) for name in FILES},
    LATE: {name: _fires_at(160) for name in FILES},
}


def _choices(windows: dict[str, list[Window]]) -> dict[str, tuple[Params, float]]:
    table = RawTable.build(STREAMS, windows, [STANDARD], thresholds=(0.5, 0.95))
    return {c: (choice.params, choice.threshold) for c, choice in table.loco(STANDARD).items()}


def _windows(others: Window, held: Window) -> dict[str, list[Window]]:
    return {name: [held if name.startswith("c/") else others] for name in FILES}


def test_a_categorys_own_windows_never_change_its_choice() -> None:
    before = _choices(_windows(others=(100, 109), held=(100, 109)))
    assert before["c"] == (EARLY, 0.5), "a and b reward the detector that fires at row 100"
    rng = random.Random(7)
    for _ in range(20):
        start = rng.randrange(30, 190)
        shuffled = _windows(others=(100, 109), held=(start, min(start + rng.randrange(1, 30), 199)))
        shuffled["c/2.csv"] = []
        assert _choices(shuffled)["c"] == before["c"]


def test_the_other_categories_windows_do_choose_it() -> None:
    moved = _choices(_windows(others=(160, 169), held=(100, 109)))
    assert moved["c"] == (LATE, 0.5), "a and b now reward the detector that fires at row 160"
    # and c, which still rewards row 100, is then scored with the choice made without it
    table = RawTable.build(STREAMS, _windows((160, 169), (100, 109)), [STANDARD], (0.5,))
    assert table.category_score(EARLY, 0.5, STANDARD, "c") == 100.0
    assert table.category_score(LATE, 0.5, STANDARD, "c") < 0.0


def test_a_category_without_windows_loses_points_per_false_positive() -> None:
    table = RawTable.build(STREAMS, {name: [] for name in FILES}, [STANDARD], (0.5, 0.95))
    assert table.category_score(EARLY, 0.95, STANDARD, "a") == 100.0
    # one false-positive row per file costs fp; two files span 2 x (tp + fn)
    assert table.category_score(EARLY, 0.5, STANDARD, "a") == 100.0 - 100.0 * 0.11 * 2 / 4


def test_a_held_out_category_cannot_tip_its_own_choice() -> None:
    """a and b pull opposite ways, equally; c agrees with b. Chosen on a and b alone, c gets
    the grid's first best (EARLY); a choice that peeked at c's windows would take LATE."""
    windows = {name: [(100, 109) if name.startswith("a/") else (160, 169)] for name in FILES}
    table = RawTable.build(STREAMS, windows, [STANDARD], thresholds=(0.5,))
    assert table.choose(STANDARD, ["a", "b"]).params == EARLY  # a tie, in grid order
    assert table.choose(STANDARD, ["a", "b", "c"]).params == LATE  # c would tip it
    assert table.loco(STANDARD)["c"].params == EARLY
