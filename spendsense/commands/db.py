"""``spendsense db upgrade|current``: the store's schema (Alembic, no alembic.ini needed)."""

from __future__ import annotations

import argparse

from spendsense.settings import get_settings
from spendsense.store.engine import make_engine, normalise_url
from spendsense.store.migrate import current_revision, head_revision, upgrade


def _where(url: str) -> str:
    return normalise_url(url).render_as_string(hide_password=True)


def _upgrade(args: argparse.Namespace) -> int:
    settings = get_settings().store
    engine = make_engine(settings)
    try:
        before, after = upgrade(engine, args.revision)
    finally:
        engine.dispose()
    if before == after:
        print(f"store {_where(settings.url)} already at revision {after}")
    else:
        print(f"store {_where(settings.url)} upgraded from {before or 'empty'} to {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    settings = get_settings().store
    engine = make_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if current == head:
        print(f"store {_where(settings.url)} at revision {current} (head)")
        return 0
    print(
        f"store {_where(settings.url)} at revision {current or 'none (empty)'}, head is {head}: "
        "run `spendsense db upgrade`"
    )
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="the store's schema (SQLite or PostgreSQL)")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="migrate the store to the newest schema")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    up.set_defaults(func=_upgrade)
    actions.add_parser(
        "current", help="show the store's revision (exit 1 when behind head)"
    ).set_defaults(func=_current)
