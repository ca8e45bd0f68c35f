"""``spendsense nab --data DIR --out DIR``: stream NAB-format series through the model.

Writes ``timestamp,value,anomaly_score`` per file (shipped defaults) under ``--out``. When
the anomaly windows and cost profiles are found (``--windows``/``--profiles``, by default
``windows.json`` and ``profiles.json`` beside the data folder), it also prints, per category,
the normalised NAB scores with parameters and threshold chosen on the other categories
(:mod:`bench.nab_loco`), beside the published ones when ``--published`` names NAB's README,
then the shipped defaults' scores on every category.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spendsense.errors import ConfigError


def _nab(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.nab import (
        NO_WINDOWS_NOTE,
        describe,
        figures,
        held_out_table,
        published_by_category,
        shipped_table,
    )
    from bench.nab_loco import run_loco
    from detector.model.series import SeriesDetector
    from detector.nab.corpus import read_profiles, read_windows
    from detector.nab.runner import run_folder

    began = time.perf_counter()
    results = run_folder(args.data, args.out, SeriesDetector())
    seconds = time.perf_counter() - began
    rows = sum(len(scores) for _, scores in results.values())
    print(f"scored {len(results)} files, {rows} rows in {seconds:.1f} s; wrote {args.out}")
    windows_file = args.windows or args.data.parent / "windows.json"
    profiles_file = args.profiles or args.data.parent / "profiles.json"
    if not (windows_file.is_file() and profiles_file.is_file()):
        if args.windows or args.profiles:
            raise ConfigError(f"need both {windows_file} and {profiles_file} to score")
        return 0
    spans = read_windows(windows_file)
    series = {name: s for name, (s, _) in results.items()}
    windows = {name: s.window_rows(spans.get(name, [])) for name, s in series.items()}
    report = run_loco(series, windows, read_profiles(profiles_file))
    published = published_by_category(args.published.read_text()) if args.published else {}
    print(
        f"grid of {report.grid_size} parameter sets streamed and scored in {report.seconds:.0f} s"
    )
    if report.held_out:
        print("\nNAB by category, each held out: parameters and threshold chosen on the others")
        print(held_out_table(report, published))
    print(f"\nshipped defaults {describe(report.shipped, report.threshold)}, chosen on all")
    print("categories (in-sample, not a held-out figure):")
    print(shipped_table(report))
    chosen = report.chosen_on_all
    print(f"grid's choice on all categories: {describe(chosen.params, chosen.threshold)}")
    print(f"({NO_WINDOWS_NOTE})")
    if args.json:
        body = figures(report, published)
        body.update(files=len(results), rows=rows, rows_per_second=round(rows / seconds))
        print(f"wrote {write_result(args.json, 'nab', body)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "nab", help="stream NAB-format CSVs through the model; write and score anomaly scores"
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of timestamp,value CSVs")
    parser.add_argument("--out", type=Path, required=True, help="folder for the scored CSVs")
    parser.add_argument("--windows", type=Path, help="NAB windows.json (default: beside --data)")
    parser.add_argument("--profiles", type=Path, help="NAB profiles.json (default: beside --data)")
    parser.add_argument("--published", type=Path, help="NAB README with the published table")
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.set_defaults(func=_nab)
