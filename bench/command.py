"""``spendsense bench ...``: the benchmarks that need the project's own code paths.

Each benchmark is one subcommand added by its own ``_register_*`` function below; heavy
imports happen when a benchmark runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.idle import IdleReport


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def print_idle_report(report: IdleReport, markdown: bool = False) -> None:
    """The per-kind table (aligned text or markdown) and the throughput figures."""
    from bench.idle import table

    on = report.onboarding
    print(
        f"connected {on.connected.isoformat()}: the backfill is judged then, later points "
        f"{on.settle_s} s after their period; idle alerts only at the live edge "
        f"({on.live_edge_s / 3600:g} h); auto-stop grace {on.grace_s / 60:g} min"
    )
    print(table(report, markdown))
    print(
        "false alerts: emails about an instance not idle in the alerted period (backfill "
        "included); false auto-stops: stops of an instance not idle yet; ttd: minutes from "
        "idle_since to the first true email, over instances going idle after connection; "
        "provisional: instances shown provisional"
    )
    t = report.throughput()
    print(
        f"{t['records']:,} records in {t['seconds']:.1f} s: {t['records_per_second']:,} records/s, "
        f"{t['records_per_cpu_second']:,} per CPU second with the harness, "
        f"{t['model_records_per_cpu_second']:,} for the model alone; peak RSS "
        f"{t['peak_rss_mb']:.0f} MB; state per instance {t['state_bytes_max']} bytes max, "
        f"{t['state_bytes_mean']:.0f} mean"
    )


def _idle(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.idle import Onboarding, run_benchmark
    from sandbox.fleet import load_fleet
    from spendsense.settings import get_settings

    fleet = load_fleet(args.fleet)
    settings = get_settings()
    onboarding = Onboarding.after(
        fleet,
        args.history_days,
        settle_s=settings.ingest.settle_s,
        live_edge_s=settings.detector.live_edge_s,
    )
    report = run_benchmark(fleet, onboarding)
    print_idle_report(report, args.markdown)
    if args.json:
        figures = {"history_days": args.history_days, **report.as_dict()}
        print(f"wrote {write_result(args.json, 'idle', figures)}")
    return 0


def _register_idle(actions: argparse._SubParsersAction) -> None:
    idle = actions.add_parser(
        "idle",
        help="replay a trace fleet's onboarding (backfill, then live) and score what users get",
    )
    idle.add_argument("--fleet", type=Path, required=True, help="a trace-fleet folder")
    idle.add_argument(
        "--history-days",
        type=float,
        default=14.0,
        help="days from the fleet's start to the account's connection, backfilled (default 14)",
    )
    idle.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    idle.add_argument("--markdown", action="store_true", help="print the table as markdown")
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
