"""Engine set-up from settings, and the ``spendsense db`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spendsense.cli import main
from spendsense.errors import ConfigError
from spendsense.settings import StoreSettings, get_settings
from spendsense.store import make_engine


def test_sqlite_file_gets_its_folder_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "var" / "spendsense.db"
    engine = make_engine(StoreSettings(url=f"sqlite:///{db}"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    engine.dispose()
    assert db.exists()


@pytest.mark.postgres
def test_plain_postgresql_urls_use_psycopg_3(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(StoreSettings(url=plain))
    assert engine.url.drivername == "postgresql+psycopg"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "says"),
    [("mysql://db/x", "'mysql' is not supported"), ("not a url", "is not a database URL")],
)
def test_bad_store_urls_say_what_to_fix(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        make_engine(StoreSettings(url=url))


@pytest.fixture
def store_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "cli" / "spendsense.db"
    monkeypatch.setenv("SPENDSENSE_STORE__URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_db_current_and_upgrade(store_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 1
    assert "none (empty)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "upgraded from empty to 0001" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "already at revision 0001" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert "at revision 0001 (head)" in capsys.readouterr().out


def test_db_command_with_bad_url_prints_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPENDSENSE_STORE__URL", "oracle://db/x")
    get_settings.cache_clear()
    try:
        assert main(["db", "current"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.strip() == (
        "spendsense: SPENDSENSE_STORE__URL: 'oracle' is not supported (use sqlite or postgresql)"
    )
