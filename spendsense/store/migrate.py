"""Schema migrations, run programmatically (no ``alembic.ini`` in the working directory).

:func:`ensure_schema` is what every process calls at start: it upgrades the store to
the newest revision (under a lock, so processes starting together take turns) and
returns at once when the schema is already there.

>>> from spendsense.settings import StoreSettings
>>> from spendsense.store.engine import make_engine
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> current_revision(engine) is None
True
>>> ensure_schema(engine) == head_revision()
True
>>> current_revision(engine) == head_revision()
True
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's ``context`` is process-global: one migration at a time per process. Across
# processes, a file lock (SQLite) or an advisory lock (PostgreSQL, in env.py) serialises.
_IN_PROCESS = threading.Lock()
# A fixed number: every SpendSense process that migrates PostgreSQL takes this lock first.
PG_MIGRATION_LOCK = 7_420_001


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and ``engine``, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=True))
    return config


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade ``engine`` to ``revision``; returns the revisions before and after."""
    return _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Downgrade to ``revision`` (``base``: drop everything); returns before and after."""
    return _run(engine, command.downgrade, revision)


def _run(
    engine: Engine, alembic_command: Callable[[Config, str], None], revision: str
) -> tuple[str | None, str | None]:
    config = alembic_config(engine)
    with _IN_PROCESS, _sqlite_file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        alembic_command(config, revision)
        return before, MigrationContext.configure(conn).get_current_revision()


def ensure_schema(engine: Engine) -> str | None:
    """Bring the store to the newest revision if it is not there; returns that revision."""
    head = head_revision()
    if current_revision(engine) != head:
        upgrade(engine)
    return head
