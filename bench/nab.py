"""The NAB benchmark's report: held-out scores per category beside NAB's published ones.

:func:`held_out_table` prints, per category, the standard, low-FP and low-FN scores obtained
with parameters and threshold chosen on the other categories (:mod:`bench.nab_loco`), beside
the published detectors' standard scores for that category; :func:`shipped_table` the shipped
defaults on every category (chosen on all of them: not a held-out figure).

>>> published = published_by_category(
...     "| detector | realAWSCloudwatch | realTweets |\\n|---|---|---|\\n"
...     "| Numenta HTM | 73.4 | 68.0 |\\n")
>>> published
{'Numenta HTM': {'realAWSCloudwatch': 73.4, 'realTweets': 68.0}}
"""

from __future__ import annotations

from typing import Any

from bench import format_table
from bench.nab_loco import LocoReport
from detector.nab.selection import Params

NO_WINDOWS_NOTE = (
    "a category without windows scores 100 less 100 x its false-positive cost over "
    "(tp + fn) x its files"
)


def published_by_category(readme: str) -> dict[str, dict[str, float]]:
    """The ``| detector | <category> | ... |`` table of the NAB README, by detector."""
    table: dict[str, dict[str, float]] = {}
    header: list[str] = []
    for line in readme.splitlines():
        if not line.lstrip().startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "detector":
            header = cells[1:] if any(c.startswith(("real", "artificial")) for c in cells) else []
            continue
        if not header or len(cells) != len(header) + 1:
            continue
        try:
            table[cells[0]] = {c: float(v) for c, v in zip(header, cells[1:], strict=True)}
        except ValueError:
            continue
    return table


def describe(params: Params, threshold: float) -> str:
    """``fast=0.2 slow=0.002 ... @0.5``: a parameter set and threshold, short.

    >>> describe((("cooldown", 100), ("fast", 0.2)), 0.5)
    'cooldown=100 fast=0.2 @0.5'
    """
    return " ".join(f"{name}={value:g}" for name, value in params) + f" @{threshold:g}"


def held_out_table(
    report: LocoReport, published: dict[str, dict[str, float]], markdown: bool = False
) -> str:
    """Held-out scores per category, published standard scores beside them."""
    detectors = list(published)
    names = [p.name for p in report.profiles]
    rows = []
    for category, by_profile in report.held_out.items():
        choice, _ = by_profile[names[0]]
        rows.append(
            [
                category,
                *(f"{by_profile[n][1]:.1f}" for n in names),
                *(
                    f"{published[d][category]:.1f}" if category in published[d] else "-"
                    for d in detectors
                ),
                describe(choice.params, choice.threshold),
            ]
        )
    headers = ["held-out category", *names, *detectors, f"chosen on the others ({names[0]})"]
    return format_table(headers, rows, markdown)


def shipped_table(report: LocoReport, markdown: bool = False) -> str:
    """The shipped defaults' scores on every category, and their mean over categories."""
    names = [p.name for p in report.profiles]
    rows = [
        [category, *(f"{scores[n]:.1f}" for n in names)]
        for category, scores in report.shipped_scores.items()
    ]
    count = len(report.shipped_scores)
    means = [sum(s[n] for s in report.shipped_scores.values()) / count for n in names]
    rows.append([f"mean of {count} categories", *(f"{m:.1f}" for m in means)])
    return format_table(["category (shipped defaults)", *names], rows, markdown)


def figures(report: LocoReport, published: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The report as JSON-ready figures."""
    return {
        "protocol": "leave-one-category-out: parameters and threshold chosen on the other "
        "categories (mean normalised score), per profile; " + NO_WINDOWS_NOTE,
        "grid_size": report.grid_size,
        "held_out": {
            category: {
                name: {
                    "score": round(score, 1),
                    "threshold": choice.threshold,
                    "params": dict(choice.params),
                }
                for name, (choice, score) in by_profile.items()
            }
            for category, by_profile in report.held_out.items()
        },
        "published_standard": published,
        "shipped": {
            "params": dict(report.shipped),
            "threshold": report.threshold,
            "chosen_on": "all categories, standard profile (not held out)",
            "still_the_choice_on_all": (
                report.chosen_on_all.params == report.shipped
                and report.chosen_on_all.threshold == report.threshold
            ),
            "scores": {
                c: {n: round(v, 1) for n, v in s.items()} for c, s in report.shipped_scores.items()
            },
        },
        "seconds": round(report.seconds, 1),
    }
