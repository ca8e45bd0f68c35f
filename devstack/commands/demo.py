"""``spendsense demo``: the whole pipeline on the local sandbox AWS account."""

from __future__ import annotations

import argparse
from pathlib import Path

from devstack.demo import LocalStack


def _demo(args: argparse.Namespace) -> int:
    stack = LocalStack(
        fleet_dir=args.fleet, speed=args.speed, verbose=args.verbose, milestones=True
    )
    logins = stack.start()
    api = stack.settings.api
    print("\n  SpendSense is running.", flush=True)
    print(f"  Dashboard:  {api.public_url}/", flush=True)
    for login in logins:
        print(f"  Log in as   {login.email} / {login.password}   (AWS account {login.account_id})")
    print(f"  Mail view:  {api.public_url}/mail   Metrics: {api.public_url}/monitoring")
    print(f"  Logs:       {stack.log_dir}/<process>.log", flush=True)
    print("  Ctrl-C stops everything.\n", flush=True)
    stack.run_forever()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the whole pipeline on the local sandbox AWS account")
    parser.add_argument("--fleet", type=Path, help="trace-fleet folder (default: var/fleet)")
    parser.add_argument(
        "--speed", type=float, help="sandbox seconds per real second (default: real time)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="every process's log on the console too (they are in var/log/ either way)",
    )
    parser.set_defaults(func=_demo)
