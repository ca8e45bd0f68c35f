"""``spendsense prices waste --from-aws``: regenerate the resource kinds' price file from the
AWS Price List API (needs AWS credentials allowed ``pricing:GetProducts``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import boto3

from spendsense.resources.price_list import fetch
from spendsense.resources.prices import PRICE_FILE, write_rows


def _waste(args: argparse.Namespace) -> int:
    if not args.from_aws:
        print(f"{PRICE_FILE}: pass --from-aws to regenerate it from the AWS Price List API")
        return 2
    pricing = boto3.client("pricing", region_name="us-east-1")
    rows = fetch(pricing, datetime.now(UTC).date())
    print(f"wrote {write_rows(rows)} prices to {PRICE_FILE}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("prices", help="price files kept in the source tree")
    files = parser.add_subparsers(dest="prices_command", required=True, metavar="FILE")
    waste = files.add_parser("waste", help="the resource kinds' prices by region")
    waste.add_argument(
        "--from-aws", action="store_true", help="fetch them from the AWS Price List API"
    )
    waste.set_defaults(func=_waste)
