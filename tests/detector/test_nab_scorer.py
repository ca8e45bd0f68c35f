"""The NAB scorer against cases computed by hand from shared/nab/README.md.

One file of 60 rows, one window on rows 10-19 (length 10), no probation unless said. With
``s(y) = 2 / (1 + exp(5 y)) - 1 = -tanh(5 y / 2)``: ``s(-1) = tanh(2.5) = 0.9866143``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.nab.corpus import Series, read_profiles
from detector.nab.scorer import Profile, normalised, probation_rows, score_corpus, score_rows

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FN = Profile("low FN", tp=1.0, fp=0.11, fn=2.0)
WINDOW = [(10, 19)]


def _hits(*rows: int, n: int = 60) -> list[bool]:
    marks = [False] * n
    for row in rows:
        marks[row] = True
    return marks


def test_detection_at_the_windows_first_row_earns_the_full_reward() -> None:
    result = score_rows(_hits(10), WINDOW, STANDARD, probation=0)
    assert result.raw == pytest.approx(1.0)
    assert (result.detected, result.false_rows) == (1, 0)


def test_detection_at_the_windows_last_row_earns_almost_nothing() -> None:
    # y = -1/10; s(-0.1) = tanh(0.25) = 0.2449187; / 0.9866143 = 0.2482415
    assert score_rows(_hits(19), WINDOW, STANDARD, probation=0).raw == pytest.approx(0.2482415)


def test_detection_mid_window() -> None:
    # row 15: 5 rows to the end inclusive, y = -0.5; tanh(1.25) / tanh(2.5) = 0.8597926
    assert score_rows(_hits(15), WINDOW, STANDARD, probation=0).raw == pytest.approx(0.8597926)


def test_detection_before_any_window_costs_fp_and_the_window_is_missed() -> None:
    result = score_rows(_hits(5), WINDOW, STANDARD, probation=0)
    assert result.raw == pytest.approx(-0.11 - 1.0)
    assert (result.detected, result.false_rows) == (0, 1)


def test_detection_after_a_window_costs_by_distance() -> None:
    # row 24: 5 rows after the end, y = 5 / (10 - 1); s = -tanh(25/18) = -0.8829262
    near = score_rows(_hits(24), WINDOW, STANDARD, probation=0).raw
    assert near == pytest.approx(-0.11 * 0.8829262 - 1.0)
    # row 48: y = 29 / 9 > 3, so s is fixed at -1
    far = score_rows(_hits(48), WINDOW, STANDARD, probation=0).raw
    assert far == pytest.approx(-0.11 - 1.0)


def test_a_missed_window_costs_fn_per_profile() -> None:
    assert score_rows(_hits(), WINDOW, STANDARD, probation=0).raw == pytest.approx(-1.0)
    assert score_rows(_hits(), WINDOW, LOW_FN, probation=0).raw == pytest.approx(-2.0)


def test_only_the_earliest_detection_in_a_window_counts_and_the_rest_cost_nothing() -> None:
    result = score_rows(_hits(10, 12, 15, 19), WINDOW, STANDARD, probation=0)
    assert result.raw == pytest.approx(1.0)
    assert result.false_rows == 0


def test_every_false_row_is_penalised_not_every_alert() -> None:
    assert score_rows(_hits(2, 3, 4, 10), WINDOW, STANDARD, probation=0).raw == pytest.approx(
        1.0 - 3 * 0.11
    )


def test_probationary_rows_are_never_scored() -> None:
    assert probation_rows(60) == 9
    result = score_rows(_hits(3, 15), WINDOW, STANDARD)  # row 3 falls in the probation
    assert result.raw == pytest.approx(0.8597926)


def test_normalised_scores_between_null_and_perfect() -> None:
    scores = {"a": [0.0] * 10 + [1.0] + [0.0] * 49, "b": [0.0] * 60}
    windows = {"a": WINDOW, "b": WINDOW}
    # raw = 1 (a) - 1 (b missed) = 0; null = -2, perfect = 2: 100 * (0 + 2) / 4
    assert score_corpus(scores, windows, STANDARD, threshold=0.5) == pytest.approx(50.0)
    assert normalised(-2.0, 2, STANDARD) == 0.0


def test_window_rows_follow_timestamps_and_keep_repeated_rows() -> None:
    stamps = ["2014-03-09 01:56:00", "2014-03-09 03:00:00", "2014-03-09 03:00:00"]
    stamps += ["2014-03-09 03:01:00", "2014-03-09 03:06:00"]
    series = Series("x.csv", stamps, [1.0] * 5)
    windows = series.window_rows([("2014-03-09 03:00:00.000000", "2014-03-09 03:01:00.000000")])
    assert windows == [(1, 3)]


def test_profiles_file_is_read_with_its_weights(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(
        '{"reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0,'
        ' "fpWeight": 0.22, "tnWeight": 1.0}}}'
    )
    assert read_profiles(path) == [Profile("low FP", 1.0, 0.22, 1.0)]
