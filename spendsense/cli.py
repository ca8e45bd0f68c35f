"""The ``spendsense`` console script.

Each component brings its own subcommands: a module with a ``register(subparsers)``
function, declared as an entry point of the ``spendsense.commands`` group in
pyproject.toml (``collect = "ingest.command:register"``). The CLI loads only the module of
the subcommand asked for, so ``spendsense db upgrade`` imports neither the model nor the
sandbox; help without a subcommand loads them all. Errors SpendSense raises on purpose
print one line (``spendsense: <what to fix>``) and exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from spendsense.errors import ConfigError, SpendSenseError
from spendsense.logs import setup_logging

GROUP = "spendsense.commands"


def subcommands() -> dict[str, EntryPoint]:
    """The installed subcommands by name (nothing imported yet)."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if not found:
        raise ConfigError("no subcommands are installed: run `make install` (pip install -e .)")
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with the subcommands registered: ``only`` that one, or all of them."""
    parser = argparse.ArgumentParser(
        prog="spendsense",
        description="Find idle AWS resources, alert their owners, stop them safely.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, entry in sorted(subcommands().items()):
        if only is None or name == only:
            _load(name, entry, required=only is not None)(sub)
    return parser


def _load(name: str, entry: EntryPoint, required: bool) -> Callable[[Any], None]:
    """The subcommand's ``register``; a component left out of this installation (the
    production image has no ``devstack`` or ``bench``) is skipped in help and named when
    asked for."""
    try:
        register: Callable[[Any], None] = entry.load()
    except ModuleNotFoundError as exc:
        package = entry.module.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != package:
            raise
        if required:
            raise ConfigError(
                f"`spendsense {name}` is not part of this installation ({package}/ is missing)"
            ) from None
        return lambda _sub: None
    return register


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        asked = args_in[0] if args_in and args_in[0] in subcommands() else None
        parser = build_parser(asked)
    except SpendSenseError as exc:
        print(f"spendsense: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(args_in)
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
