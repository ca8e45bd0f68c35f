"""``spendsense chaos [--minutes N] [--seed N]``: the pipeline under kills, a broker restart and AWS faults.

Starts an isolated local stack (own broker, ports and var dir under ``var/chaos/``),
SIGKILLs the collector, the detector worker, the model service and the actions worker
at seeded moments (at least 10 kills), restarts the broker once, makes the sandbox
throttle and fail a share of AWS calls, then prints what it checked. Exit status 1 on
any breach.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devstack.chaos.driver import ChaosOptions, run_chaos
from devstack.chaos.plan import make_plan
from spendsense.errors import ConfigError


def _run(args: argparse.Namespace) -> int:
    if not 0.5 <= args.minutes <= 120:
        raise ConfigError(f"--minutes must be between 0.5 and 120, got {args.minutes}")
    options = ChaosOptions(
        minutes=args.minutes,
        seed=args.seed,
        instances=args.instances,
        speed=args.speed,
        var_dir=args.var_dir,
    )
    plan = make_plan(args.seed, args.minutes * 60)
    result = run_chaos(plan, options, sys.stdout)
    print(
        f"\nchaos run (seed {args.seed}, {args.minutes:g} min): {result.kills} kills, "
        f"{result.broker_restarts} broker restart(s), {result.aws_faults} AWS faults; "
        f"process logs: {result.log_path}"
    )
    print(result.report)
    print("ALL CHECKS HELD" if result.ok else "BREACHES FOUND")
    return 0 if result.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chaos", help="run the pipeline under process kills and AWS faults, then check it"
    )
    p.add_argument(
        "--minutes", type=float, default=10.0, help="how long the faults last (default 10)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the kill schedule and AWS faults")
    p.add_argument("--instances", type=int, default=40, help="sandbox fleet size (default 40)")
    p.add_argument("--speed", type=float, default=60.0, help="sandbox seconds per real second")
    p.add_argument("--var-dir", type=Path, default=None, help="where the run keeps its state")
    p.set_defaults(func=_run)
