"""``spendsense fleet generate|check``: write a seeded trace fleet, or validate one."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sandbox.fleet import load_fleet, write_fleet
from sandbox.fleet.generator import DEFAULT_START, FleetSpec, generate_fleet
from sandbox.fleet.layout import parse_utc, utc_text
from spendsense.errors import ConfigError


def _start(text: str) -> datetime:
    try:
        return parse_utc(text, "--start")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _progress(what: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        print(f"  {what} {done}/{total}", file=sys.stderr, flush=True)

    return report


def _generate(args: argparse.Namespace) -> int:
    spec = FleetSpec(
        seed=args.seed,
        instances=args.instances,
        days=args.days,
        tenants=args.tenants,
        start=args.start,
        anomalies=args.anomalies,
        resources=args.resources,
    )
    spec.validate()
    began = time.monotonic()
    print(
        f"generating {spec.instances} instances x {spec.days:g} days from {utc_text(spec.start)} "
        f"(seed {spec.seed})",
        file=sys.stderr,
    )
    fleet = generate_fleet(spec, progress=_progress("generated"))
    write_fleet(fleet, args.out, progress=_progress("written"))
    idle = sum(1 for when in fleet.labels.values() if when is not None)
    wasted = sum(1 for r in fleet.resources.values() if r.label.waste)
    print(
        f"wrote {len(fleet.instances)} instances ({idle} idle by label), "
        f"{len(fleet.resources)} other resources ({wasted} waste by label) to {args.out} "
        f"in {time.monotonic() - began:.1f} s"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.folder)
    kinds = Counter(i.kind for i in fleet.instances.values())
    idle = sum(1 for when in fleet.labels.values() if when is not None)
    print(
        f"{args.folder}: {len(fleet.instances)} instances, {idle} idle by label, "
        f"{utc_text(fleet.start)} to {utc_text(fleet.end)}"
    )
    for kind, count in sorted(kinds.items()):
        print(f"  {kind}: {count}")
    for kind in sorted({r.kind for r in fleet.resources.values()}):
        mine = [r for r in fleet.resources.values() if r.kind == kind]
        print(f"  {kind}: {len(mine)}, {sum(r.label.waste for r in mine)} waste by label")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fleet", help="generate or check a trace fleet (simulated EC2 metrics)")
    actions = parser.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    gen = actions.add_parser("generate", help="write a seeded trace fleet to a folder")
    gen.add_argument("--seed", type=int, required=True, help="same seed, same fleet")
    gen.add_argument("--out", type=Path, required=True, help="folder to write (new or a fleet)")
    gen.add_argument("--instances", type=int, default=300, help="how many (default 300)")
    gen.add_argument("--days", type=float, default=21.0, help="horizon in days (default 21)")
    gen.add_argument("--tenants", type=int, default=2, help="customer accounts (default 2)")
    gen.add_argument(
        "--anomalies",
        type=float,
        default=0.0,
        help="share of never-idle instances given a labelled usage anomaly (default 0)",
    )
    gen.add_argument(
        "--resources",
        type=int,
        default=0,
        help="resources of each kind beyond instances: volumes, addresses, NAT gateways, "
        "load balancers, databases, snapshots (default 0)",
    )
    gen.add_argument(
        "--start",
        type=_start,
        default=DEFAULT_START,
        help=f"first timestamp, UTC ISO 8601 (default {utc_text(DEFAULT_START)})",
    )
    gen.set_defaults(func=_generate)
    check = actions.add_parser("check", help="validate a trace-fleet folder and summarise it")
    check.add_argument("folder", type=Path)
    check.set_defaults(func=_check)
