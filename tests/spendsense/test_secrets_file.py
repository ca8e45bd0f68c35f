"""One bootstrap for the signing keys kept in a file: the API's session secret and the
actions' link-signing key both come from :func:`configured_or_generated`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from actions.links import signing_key
from api.security import session_secret
from spendsense.errors import ConfigError
from spendsense.secrets_file import configured_or_generated
from spendsense.settings import ActionsSettings, ApiSettings

VARIABLE = "SPENDSENSE_TEST_KEY"


def test_generated_once_with_mode_0600_and_reused_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "test.key"
    first = configured_or_generated(None, path, VARIABLE)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert configured_or_generated(None, path, VARIABLE) == first
    assert [p.name for p in path.parent.iterdir()] == ["test.key"]  # no draft left behind


def test_a_set_value_wins_and_touches_no_file(tmp_path: Path) -> None:
    path = tmp_path / "test.key"
    assert configured_or_generated(SecretStr("s" * 40), path, VARIABLE) == b"s" * 40
    assert not path.exists()
    generated = configured_or_generated(None, path, VARIABLE)
    assert configured_or_generated(SecretStr("s" * 40), path, VARIABLE) == b"s" * 40 != generated


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "test.key"
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(configured_or_generated(None, path, VARIABLE)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_an_unusable_file_or_directory_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("too short")
    with pytest.raises(ConfigError, match=f"holds no usable key: delete it or set {VARIABLE}"):
        configured_or_generated(None, short, VARIABLE)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match=f"^{VARIABLE} is not set and .* cannot be written"):
        configured_or_generated(None, blocked / "test.key", VARIABLE)


def test_session_secret_and_link_key_use_it_with_their_own_files(tmp_path: Path) -> None:
    session, link = (
        session_secret(ApiSettings(), tmp_path),
        signing_key(ActionsSettings(), tmp_path),
    )
    assert session != link
    assert (tmp_path / "api-session-secret").read_text().encode() == session
    assert (tmp_path / "secrets" / "link-signing.key").read_text().encode() == link
    configured = ApiSettings(session_secret="p" * 40)  # type: ignore[arg-type]
    assert session_secret(configured, tmp_path) == b"p" * 40
