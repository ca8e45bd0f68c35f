"""``spendsense bench ...``: the benchmarks that need the project's own code paths.

Each benchmark is one subcommand added by its own ``_register_*`` function below; heavy
imports happen when a benchmark runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.anomalies import AnomalyReport
    from bench.idle import IdleReport, Onboarding
    from sandbox.fleet import Fleet


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


def _onboarding(fleet: Fleet, history_days: float) -> Onboarding:
    """The fleet's account connected ``history_days`` after its start, with the settings'
    settle time and live edge."""
    from bench.idle import Onboarding
    from spendsense.settings import get_settings

    settings = get_settings()
    return Onboarding.after(
        fleet,
        history_days,
        settle_s=settings.ingest.settle_s,
        live_edge_s=settings.detector.live_edge_s,
    )


def _write(args: argparse.Namespace, benchmark: str, figures: dict[str, Any]) -> None:
    """Write ``figures`` (with the history days) where ``--json`` says, if it does."""
    from bench import write_result

    if args.json:
        body = {"history_days": args.history_days, **figures}
        print(f"wrote {write_result(args.json, benchmark, body)}")


def _replay_parser(
    actions: argparse._SubParsersAction, name: str, help_text: str, fleet_help: str
) -> argparse.ArgumentParser:
    """A subcommand that replays a fleet's onboarding: ``--fleet``, ``--history-days``,
    ``--json``, ``--markdown``."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    parser.add_argument("--fleet", type=Path, required=True, help=fleet_help)
    parser.add_argument(
        "--history-days",
        type=float,
        default=14.0,
        help="days from the fleet's start to the account's connection, backfilled (default 14)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    return parser


def _idle(args: argparse.Namespace) -> int:
    from bench.idle import run_benchmark
    from sandbox.fleet import load_fleet

    fleet = load_fleet(args.fleet)
    report = run_benchmark(fleet, _onboarding(fleet, args.history_days))
    print_idle_report(report, args.markdown)
    _write(args, "idle", report.as_dict())
    return 0


def _register_idle(actions: argparse._SubParsersAction) -> None:
    idle = _replay_parser(
        actions,
        "idle",
        "replay a trace fleet's onboarding (backfill, then live) and score what users get",
        "a trace-fleet folder",
    )
    idle.set_defaults(func=_idle)


def print_anomaly_report(report: AnomalyReport, markdown: bool = False) -> None:
    """The per-anomaly-kind table and the fleet-wide figures against the goals."""
    from bench.anomalies import table

    print(table(report, markdown))
    figures = report.as_dict()["overall"]
    print(
        f"{figures['events']} events; {figures['false_events']} false (an incident that began "
        f"outside every labelled window) in {figures['instance_weeks']:,.0f} instance-weeks "
        f"watched live: {figures['false_per_100_instance_weeks']:.2f} per 100 instance-weeks "
        "(goal at most 1); recall goal 0.9, median minutes to alert goal 15 (from the arrival "
        f"of the window's first point); {report.records:,} records in {report.seconds:.1f} s"
    )


def _anomalies(args: argparse.Namespace) -> int:
    from bench.anomalies import run_benchmark
    from sandbox.fleet import load_fleet
    from spendsense.errors import ConfigError

    fleet = load_fleet(args.fleet)
    if not fleet.anomalies:
        raise ConfigError(
            f"{args.fleet}: no labelled anomalies (make one with "
            "`spendsense fleet generate --anomalies 0.3 ...`)"
        )
    report = run_benchmark(fleet, _onboarding(fleet, args.history_days))
    print_anomaly_report(report, args.markdown)
    _write(args, "anomalies", report.as_dict())
    return 0


def _register_anomalies(actions: argparse._SubParsersAction) -> None:
    anomalies = _replay_parser(
        actions,
        "anomalies",
        "replay a fleet with labelled anomalies: window recall, false events, time to alert",
        "a trace-fleet folder with anomalies.json",
    )
    anomalies.set_defaults(func=_anomalies)


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

    by_workers: dict[str, Any] = {}
    for workers in sorted({1, args.workers}):
        runs = []
        for n in range(1, args.runs + 1):
            print(f"{workers} worker(s), run {n} of {args.runs} (a minute or two)", flush=True)
            runs.append(
                run_benchmark(
                    get_settings(),
                    instances=args.instances,
                    backlog=args.backlog,
                    steady_rate=args.rate,
                    steady_s=args.seconds,
                    workers=workers,
                    periods_per_record=args.periods_per_record,
                )
            )
        by_workers[str(workers)] = figures = median_run(runs)
        print(
            f"medians of {len(runs)} run(s), {workers} worker(s), "
            f"{args.periods_per_record} periods a record:\n"
            f"in-process model:  {figures['in_process_periods_per_second']:>8,.0f} periods/s\n"
            f"pipeline:          {figures['sustained_periods_per_second']:>8,.0f} periods/s "
            f"sustained ({figures['pipeline_over_in_process']:.0%} of in-process; goals 50% "
            f"and 10,000/s)\n"
            f"latency at {figures['steady_rate']:,.0f}/s: p50 {figures['latency_ms_p50']:.0f} ms, "
            f"p99 {figures['latency_ms_p99']:.0f} ms (record produced -> detection produced)\n"
            f"per CPU second:    {figures['in_process_periods_per_cpu_second']:>8,.0f} in-process, "
            f"{figures['pipeline_periods_per_cpu_second']:,.0f} pipeline (workers + model "
            f"service; {figures['pipeline_over_in_process_cpu']:.0%}); load average "
            f"{figures['load_average_1m']}"
        )
        if "faust_floor_periods_per_second" in figures:
            print(
                f"Faust floor:       {figures['faust_floor_periods_per_second']:>8,.0f} periods/s "
                f"({figures['faust_floor_over_in_process']:.0%} of in-process): an agent that "
                "only takes and acknowledges, on the same topic"
            )
        if "handover_s" in figures:
            print(
                f"handover:          {figures['handover_s']} s from the SIGKILL to the next "
                f"detection in its partitions (goal 30 s); {figures['handover_lost_periods']} "
                f"periods lost, {figures['detections_sent_twice']} detections sent twice"
            )
    if args.json:
        print(f"wrote {write_result(args.json, 'pipeline', {'workers': by_workers})}")
    return 0


def _register_pipeline(actions: argparse._SubParsersAction) -> None:
    pipeline = actions.add_parser(
        "pipeline",
        help="broker + Faust workers + model service: periods/s, latency, handover on a kill",
    )
    pipeline.add_argument("--instances", type=int, default=2000, help="instances in the fleet")
    pipeline.add_argument(
        "--backlog", type=int, default=60000, help="periods for the sustained-rate run"
    )
    pipeline.add_argument(
        "--rate", type=float, default=2000.0, help="periods/s of the steady latency run"
    )
    pipeline.add_argument("--seconds", type=float, default=15.0, help="length of the steady run")
    pipeline.add_argument(
        "--workers",
        type=_positive,
        default=2,
        help="detector workers in the group: measured with 1 and with this many, one of them "
        "killed for the handover (default 2)",
    )
    pipeline.add_argument(
        "--periods-per-record",
        type=_positive,
        default=12,
        help="periods a metrics record carries (a poll's worth; default 12, an hour)",
    )
    pipeline.add_argument(
        "--runs", type=_positive, default=3, help="runs; the medians are reported (default 3)"
    )
    pipeline.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    pipeline.set_defaults(func=_pipeline)


def _restart(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.restart import STORES, run_benchmark
    from spendsense.settings import get_settings

    print(
        f"{args.instances:,} instances of state, {args.runs} run(s) per store "
        "(a few minutes per run)",
        flush=True,
    )
    figures = run_benchmark(
        get_settings(), instances=args.instances, probes=args.probes, runs=args.runs
    )
    for store in STORES:
        f = figures[store]
        print(
            f"{store:8s} restart: ready in {f['ready_s']} s, first detection in "
            f"{f['first_detection_s']} s, all {args.probes} probes in {f['all_probes_detected_s']} s"
        )
    print(f"RocksDB / memory, time to first detection: {figures['rocksdb_over_memory']:.0%}")
    if args.json:
        print(f"wrote {write_result(args.json, 'restart', figures)}")
    return 0


def _register_restart(actions: argparse._SubParsersAction) -> None:
    restart = actions.add_parser(
        "restart",
        help="a detector worker's restart with many instances of state: memory vs RocksDB",
    )
    restart.add_argument(
        "--instances", type=_positive, default=100_000, help="instances of state (default 100k)"
    )
    restart.add_argument(
        "--probes", type=_positive, default=100, help="instances given a new period meanwhile"
    )
    restart.add_argument(
        "--runs", type=_positive, default=1, help="runs per store; medians are reported"
    )
    restart.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    restart.set_defaults(func=_restart)


def _collect(args: argparse.Namespace) -> int:
    if args.accounts:
        return _collect_scale(args)
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


def _collect_scale(args: argparse.Namespace) -> int:
    import tempfile

    from bench import format_table, write_result
    from bench.collect_scale import ScaleRun, run_benchmark

    with tempfile.TemporaryDirectory(prefix="bench-collect-") as workdir:
        runs = run_benchmark(args.accounts, args.collectors, args.per_account, Path(workdir))
    print(format_table(ScaleRun.HEADERS, [r.row() for r in runs], markdown=args.markdown))
    print(
        "cycle: from connecting the accounts to every one collected (inventory, costs, every "
        "instance's 6-hour backfill); re-check: the next full cycle, nothing due yet"
    )
    if args.json:
        figures = {"per_account": args.per_account, "runs": [r.as_dict() for r in runs]}
        print(f"wrote {write_result(args.json, 'collect_scale', figures)}")
    return 0


def _register_collect(actions: argparse._SubParsersAction) -> None:
    from ingest.polling import POLICIES

    collect = actions.add_parser(
        "collect",
        help="--fleet: replay a trace fleet under polling policies (AWS cost, delay to verdict); "
        "--accounts: collection cycle time at many sandbox accounts",
    )
    what = collect.add_mutually_exclusive_group(required=True)
    what.add_argument("--fleet", type=Path, help="a trace-fleet folder")
    what.add_argument(
        "--accounts",
        type=_positive,
        nargs="+",
        metavar="N",
        help="sandbox accounts to collect, one run each (e.g. 10 100 1000)",
    )
    collect.add_argument(
        "--collectors",
        type=_positive,
        nargs="+",
        default=[1, 2],
        metavar="M",
        help="with --accounts: collector processes, one run each (default 1 2)",
    )
    collect.add_argument(
        "--per-account", type=_positive, default=2, help="with --accounts: instances per account"
    )
    collect.add_argument("--markdown", action="store_true", help="print the table as markdown")
    collect.add_argument(
        "--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES), metavar="POLICY"
    )
    collect.add_argument("--history-days", type=float, default=14.0)
    collect.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    collect.set_defaults(func=_collect)


def _waste(args: argparse.Namespace) -> int:
    from bench import write_result
    from bench.waste import run_benchmark
    from devstack import broker
    from sandbox.fleet import load_fleet
    from spendsense.settings import get_settings

    fleet = load_fleet(args.fleet)
    kafka = get_settings().kafka
    started = not broker.broker_ready(kafka)
    if started:
        broker.start(kafka)
    try:
        report = run_benchmark(
            fleet,
            kafka,
            poll_hours=args.poll_hours,
            baseline=args.baseline,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    finally:
        if started:
            broker.stop(kafka)
    print(report.table(args.markdown))
    if report.baseline:
        print("\nthe baseline, the same polls with the clean floor (any non-zero day is use):")
        print(report.table(args.markdown, baseline=True))
    print(
        f"{report.polls} polls, every {args.poll_hours:g} h of sandbox time from onboarding to "
        f"the fleet's end, in {report.seconds:.0f} s; false alerts: resources found wasted at "
        "any poll before their label says so; $: monthly, last poll's findings against the "
        "labelled waste; 1st digest: findings at onboarding, and the false ones among them"
    )
    if args.json:
        figures = {"fleet": str(args.fleet), **report.as_dict()}
        print(f"wrote {write_result(args.json, 'waste', figures)}")
    return 0


def _register_waste(actions: argparse._SubParsersAction) -> None:
    waste = actions.add_parser(
        "waste",
        help="seed a fleet's resources into a sandbox, collect them as a new customer: "
        "recall, precision, false alerts and dollars per kind",
    )
    waste.add_argument("--fleet", type=Path, required=True, help="a trace fleet with resources")
    waste.add_argument(
        "--poll-hours", type=float, default=1.0, help="sandbox hours between polls (default 1)"
    )
    waste.add_argument(
        "--baseline",
        action="store_true",
        help="also judge the same polls with the clean floor (any non-zero day is use)",
    )
    waste.add_argument("--markdown", action="store_true", help="print the table as markdown")
    waste.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    waste.set_defaults(func=_waste)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print its figures")
    actions = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    _register_idle(actions)
    _register_anomalies(actions)
    _register_collect(actions)
    _register_pipeline(actions)
    _register_restart(actions)
    _register_waste(actions)
