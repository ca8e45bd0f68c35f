"""Engine and sessions from :class:`~spendsense.settings.StoreSettings`.

SQLite (the default, a file under ``var/``) gets its folder created, WAL journaling,
foreign keys and a busy timeout on every connection; PostgreSQL is reached with
psycopg 3 (``postgresql://`` URLs are read as ``postgresql+psycopg://``) through a
pre-pinged connection pool.

>>> from spendsense.settings import StoreSettings
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> with engine.connect() as conn:
...     conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
1
>>> normalise_url("postgres://u:p@db/spendsense").drivername
'postgresql+psycopg'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from spendsense.errors import ConfigError
from spendsense.settings import StoreSettings

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> URL:
    """Parse a store URL; plain PostgreSQL URLs get the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "SPENDSENSE_STORE__URL: the value is not a database URL "
            "(use sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db)"
        ) from None
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"SPENDSENSE_STORE__URL: {parsed.get_backend_name()!r} is not supported "
            "(use sqlite or postgresql)"
        )
    return parsed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _primary_message_only(context: ExceptionContext) -> None:
    """PostgreSQL's error text quotes the values a statement failed on (``DETAIL: Key
    (email)=(...)``, ``Failing row contains (...)``, ``CONTEXT: ... parameter $1 = ...``):
    the error keeps its primary message only; ``orig.diag`` still has every field."""
    orig, wrapped = context.original_exception, context.sqlalchemy_exception
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if not primary:
        return
    full = str(orig)
    orig.args = (primary,)
    if wrapped is not None and wrapped.args and isinstance(wrapped.args[0], str):
        wrapped.args = (wrapped.args[0].replace(full, primary), *wrapped.args[1:])


def make_engine(settings: StoreSettings) -> Engine:
    """An engine for the configured store (creates the SQLite file's folder).

    Its errors and logs never carry a statement's parameters (``hide_parameters``; on
    PostgreSQL also :func:`_primary_message_only`): they are e-mail addresses, password
    hashes, token hashes.
    """
    url = normalise_url(settings.url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10},
    )
    event.listen(engine, "handle_error", _primary_message_only)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
