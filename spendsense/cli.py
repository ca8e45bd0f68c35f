"""The ``spendsense`` console script.

Each module in :mod:`spendsense.commands` adds its subcommands through a
``register(subparsers)`` function, so a component brings its own commands
without touching this file. Errors SpendSense raises on purpose print one line
(``spendsense: <what to fix>``) and exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from spendsense import commands
from spendsense.errors import SpendSenseError
from spendsense.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command module's subcommands registered."""
    parser = argparse.ArgumentParser(
        prog="spendsense",
        description="Find idle AWS resources, alert their owners, stop them safely.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("SPENDSENSE_LOG_LEVEL", "INFO").upper())
    try:
        return int(args.func(args) or 0)
    except SpendSenseError as exc:
        print(f"spendsense: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
