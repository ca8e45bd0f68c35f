"""Migrations run from empty, match the models, go down and up again, and run concurrently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from spendsense.store.migrate import (
    MIGRATIONS,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from spendsense.store.models import Base
from spendsense.store.regenerate import FILENAME, regenerate


def test_migrations_run_from_empty_and_match_the_models(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert ensure_schema(empty_engine) == head_revision()
    assert current_revision(empty_engine) == head_revision()
    assert set(inspect(empty_engine).get_table_names()) == set(Base.metadata.tables) | {
        "alembic_version"
    }
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "models changed without `make migration`: " + repr(diff)


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    ensure_schema(empty_engine)
    downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()


START = """
from spendsense.settings import load_settings
from spendsense.store.engine import make_engine
from spendsense.store.migrate import upgrade
before, after = upgrade(make_engine(load_settings().store))
print(f"upgraded from {before or 'empty'} to {after}" if before != after else "already at head")
"""


def test_processes_starting_together_migrate_once(empty_engine: Engine) -> None:
    url = empty_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "SPENDSENSE_STORE__URL": url, "SPENDSENSE_LOG_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert sum("upgraded from empty to" in out for out in outputs) == 1, outputs
    assert sum("already at head" in out for out in outputs) == 1, outputs
    assert current_revision(empty_engine) == head_revision()


def test_committed_initial_migration_is_what_make_migration_writes(tmp_path: Path) -> None:
    written = regenerate(tmp_path)
    committed = MIGRATIONS / "versions" / FILENAME
    assert written.read_text() == committed.read_text(), (
        "the initial migration is stale: run `make migration` and commit it"
    )
