"""``spendsense bench ...``: the benchmarks that need the project's own code paths.

Each benchmark is one subcommand added by its own ``_register_*`` function below; heavy
imports happen when a benchmark runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.idle import IdleReport, KindStats


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def _idle_row(name: str, s: KindStats) -> str:
    return (
        f"{name:18s} {s.instances:5d} {s.idle:5d} {_fmt(s.recall, '.3f'):>7s} "
        f"{_fmt(s.precision, '.3f'):>9s} {_fmt(s.ttd(0.5), '.0f'):>8s} "
        f"{_fmt(s.ttd(0.9), '.0f'):>8s} {s.false_on_never_idle:>6d} {s.false_in_history:>8d}"
    )


def print_idle_report(report: IdleReport) -> None:
    """The per-kind table and the throughput figures."""
    print(f"live from {report.live_start.isoformat()} (before it: history, not scored)")
    print(
        f"{'kind':18s} {'inst':>5s} {'idle':>5s} {'recall':>7s} {'precision':>9s} "
        f"{'ttd p50':>8s} {'ttd p90':>8s} {'false':>6s} {'hist.fp':>8s}"
    )
    for kind, stats in report.per_kind.items():
        print(_idle_row(kind, stats))
    print(_idle_row("overall", report.overall))
    print(
        "time to detect in minutes, over instances going idle in the live period; "
        "false: never-idle instances given an idle verdict (live); hist.fp: the same in history"
    )
    print(
        f"{report.records} records in {report.seconds:.1f} s: {report.records_per_second:,.0f} "
        f"records/s ({report.records_per_cpu_second:,.0f} per CPU second); peak memory "
        f"{report.peak_rss_mb:.0f} MB; state per instance {report.state_bytes_max} bytes max"
    )


def _idle(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.idle import run_benchmark
    from sandbox.fleet import load_fleet

    report = run_benchmark(load_fleet(args.fleet), history_days=args.history_days)
    print_idle_report(report)
    if args.json:
        figures = {
            "fleet": str(args.fleet),
            "history_days": args.history_days,
            "live_start": report.live_start.isoformat(),
            "records": report.records,
            "seconds": round(report.seconds, 2),
            "records_per_second": round(report.records_per_second),
            "records_per_cpu_second": round(report.records_per_cpu_second),
            "peak_rss_mb": round(report.peak_rss_mb, 1),
            "state_bytes_max": report.state_bytes_max,
            "state_bytes_mean": round(report.state_bytes_mean, 1),
            "overall": report.overall.as_dict(),
            "per_kind": {k: v.as_dict() for k, v in report.per_kind.items()},
        }
        print(f"wrote {write_result(args.json, 'idle', figures)}")
    return 0


def _register_idle(actions: argparse._SubParsersAction) -> None:
    idle = actions.add_parser(
        "idle", help="replay a trace fleet through the model (offline) and score its idle verdicts"
    )
    idle.add_argument("--fleet", type=Path, required=True, help="a trace-fleet folder")
    idle.add_argument(
        "--history-days",
        type=float,
        default=14.0,
        help="days at the start that only teach the model (default 14)",
    )
    idle.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    idle.set_defaults(func=_idle)


def _positive(text: str) -> int:
    """A whole number of at least 1, for argparse.

    >>> _positive("3")
    3
    """
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _pipeline(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.pipeline import median_run, run_benchmark
    from spendsense.settings import get_settings

    runs = []
    for n in range(1, args.runs + 1):
        print(
            f"run {n} of {args.runs} (model service, worker, then the Faust floor; under a minute)",
            flush=True,
        )
        runs.append(
            run_benchmark(
                get_settings(),
                instances=args.instances,
                backlog=args.backlog,
                steady_rate=args.rate,
                steady_s=args.seconds,
            )
        )
    figures = median_run(runs)
    print(
        f"medians of {len(runs)} run(s):\n"
        f"in-process model:  {figures['in_process_records_per_second']:>8,.0f} records/s\n"
        f"pipeline:          {figures['sustained_records_per_second']:>8,.0f} records/s sustained "
        f"({figures['pipeline_over_in_process']:.0%} of in-process; goal 50%)\n"
        f"Faust floor:       {figures['faust_floor_records_per_second']:>8,.0f} records/s "
        f"({figures['faust_floor_over_in_process']:.0%} of in-process): an agent that only "
        f"takes and acknowledges, on the same topic\n"
        f"latency at {figures['steady_rate']:,.0f}/s: p50 {figures['latency_ms_p50']:.0f} ms, "
        f"p99 {figures['latency_ms_p99']:.0f} ms (record produced -> detection produced)\n"
        f"per CPU second:    {figures['in_process_records_per_cpu_second']:>8,.0f} in-process, "
        f"{figures['pipeline_records_per_cpu_second']:,.0f} pipeline (worker + model service; "
        f"{figures['pipeline_over_in_process_cpu']:.0%}); load average "
        f"{figures['load_average_1m']}"
    )
    if args.json:
        print(f"wrote {write_result(args.json, 'pipeline', figures)}")
    return 0


def _register_pipeline(actions: argparse._SubParsersAction) -> None:
    pipeline = actions.add_parser(
        "pipeline",
        help="broker + Faust worker + model service: sustained records/s and latency",
    )
    pipeline.add_argument("--instances", type=int, default=2000, help="instances in the fleet")
    pipeline.add_argument(
        "--backlog", type=int, default=30000, help="records for the sustained-rate run"
    )
    pipeline.add_argument(
        "--rate", type=float, default=2000.0, help="records/s of the steady latency run"
    )
    pipeline.add_argument("--seconds", type=float, default=15.0, help="length of the steady run")
    pipeline.add_argument(
        "--runs", type=_positive, default=3, help="runs; the medians are reported (default 3)"
    )
    pipeline.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    pipeline.set_defaults(func=_pipeline)


def _collect(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.collect import run_benchmark
    from sandbox.fleet import load_fleet

    reports = run_benchmark(load_fleet(args.fleet), args.policies, history_days=args.history_days)
    print(
        f"{'policy':14s} {'calls':>8s} {'metrics':>10s} {'$/1000/mo':>10s} "
        f"{'ttd p50':>8s} {'ttd p90':>8s} {'detected':>9s} {'false':>6s}"
    )
    for r in reports:
        print(
            f"{r.policy:14s} {r.calls:8d} {r.metrics_requested:10d} "
            f"{r.usd_per_1000_month:10.2f} {_fmt(r.ttd(0.5), '.0f'):>8s} "
            f"{_fmt(r.ttd(0.9), '.0f'):>8s} {len(r.ttd_minutes):>4d}/{r.idle:<4d} "
            f"{r.false_verdicts:6d}"
        )
    print(
        "GetMetricData at $0.01 per 1,000 metrics requested; ttd: minutes from idle_since to "
        "the model's idle verdict, end to end (polling, settle delay, model)"
    )
    if args.json:
        figures = {"fleet": str(args.fleet), "policies": [r.as_dict() for r in reports]}
        print(f"wrote {write_result(args.json, 'collect', figures)}")
    return 0


def _register_collect(actions: argparse._SubParsersAction) -> None:
    from ingest.polling import POLICIES

    collect = actions.add_parser(
        "collect", help="replay a trace fleet under polling policies: AWS cost and delay to verdict"
    )
    collect.add_argument("--fleet", type=Path, required=True, help="a trace-fleet folder")
    collect.add_argument(
        "--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES), metavar="POLICY"
    )
    collect.add_argument("--history-days", type=float, default=14.0)
    collect.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    collect.set_defaults(func=_collect)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print its figures")
    actions = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    _register_idle(actions)
    _register_collect(actions)
    _register_pipeline(actions)
