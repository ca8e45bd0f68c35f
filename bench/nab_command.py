"""``spendsense nab --data DIR --out DIR``: stream NAB-format series through the model.

Writes ``timestamp,value,anomaly_score`` per file under ``--out``. When the anomaly windows
and cost profiles are found (``--windows``/``--profiles``, by default ``windows.json`` and
``profiles.json`` beside the data folder), it also prints the normalised NAB scores, beside
NAB's published table when ``--published`` names its README.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spendsense.errors import ConfigError


def _nab(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.nab import evaluate, published_table, table
    from detector.model.series import SeriesDetector
    from detector.nab.runner import run_folder

    detector = SeriesDetector()
    began = time.perf_counter()
    results = run_folder(args.data, args.out, detector)
    seconds = time.perf_counter() - began
    rows = sum(len(scores) for _, scores in results.values())
    print(f"scored {len(results)} files, {rows} rows in {seconds:.1f} s; wrote {args.out}")
    windows = args.windows or args.data.parent / "windows.json"
    profiles = args.profiles or args.data.parent / "profiles.json"
    if not (windows.is_file() and profiles.is_file()):
        if args.windows or args.profiles:
            raise ConfigError(f"need both {windows} and {profiles} to score")
        return 0
    report = evaluate(results, windows, profiles, detector)
    published = published_table(args.published.read_text()) if args.published else []
    print(f"NAB normalised scores over {report.files} files, {report.windows} windows:")
    print(table(report, published))
    if args.json:
        figures = {
            "data": str(args.data),
            "files": report.files,
            "rows": report.rows,
            "windows": report.windows,
            "threshold": report.threshold,
            "scores": {
                p.name: round(s, 1) for p, s in zip(report.profiles, report.fixed, strict=True)
            },
            "best_grid_threshold": {
                p.name: {"score": round(s, 1), "threshold": t}
                for p, (s, t) in zip(report.profiles, report.best, strict=True)
            },
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds) if seconds else None,
            "detector": detector._get_params(),
        }
        print(f"wrote {write_result(args.json, 'nab', figures)}")
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
