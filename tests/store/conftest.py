"""The store suite runs every contract test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from spendsense.settings import StoreSettings
from spendsense.store import make_engine, session_factory
from spendsense.store.migrate import ensure_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(StoreSettings(url=url))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(empty_engine: Engine) -> sessionmaker[Session]:
    """Sessions on a database migrated to head."""
    ensure_schema(empty_engine)
    return session_factory(empty_engine)
