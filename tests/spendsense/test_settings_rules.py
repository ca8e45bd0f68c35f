"""Issue 13, item 7: settings errors never echo a value, signing keys have a minimum
length, and a production stack refuses what only a local run may use.

Each bad value comes from environment variables, as a process reads them, and is checked
through ``spendsense config check`` (the one-line error every process prints).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.security import session_secret
from spendsense.cli import main
from spendsense.errors import ConfigError
from spendsense.settings import ApiSettings, Settings, load_settings
from tests.fixtures.compose import compose_service

SHORT_SECRET = "hunter2-short-secret-value"  # 26 characters
BIN = Path(sys.executable).parent


def _only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``SPENDSENSE_*`` variable but those a test sets (another test's stack may have
    left some in this process's environment)."""
    for name in [n for n in os.environ if n.startswith("SPENDSENSE_")]:
        monkeypatch.delenv(name)


def _check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str) -> str:
    """``spendsense config check`` with these variables: its one error line."""
    _only(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPENDSENSE_API__SESSION_SECRET", SHORT_SECRET),
        ("SPENDSENSE_ACTIONS__LINK_SIGNING_KEY", SHORT_SECRET),
        # any field: a value in the wrong place may be a secret all the same
        ("SPENDSENSE_KAFKA__PARTITIONS", "AKIAIOSFODNN7EXAMPLE"),
        ("SPENDSENSE_API__COOKIE_SAMESITE", "pa55word-in-the-wrong-variable"),
    ],
)
def test_settings_errors_never_echo_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    err = _check(monkeypatch, capsys, **{variable: value})
    assert err.startswith(f"spendsense: {variable}: ")
    assert value not in err
    assert "input" not in err


def test_session_secret_shorter_than_32_characters_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _check(monkeypatch, capsys, SPENDSENSE_API__SESSION_SECRET=SHORT_SECRET)
    assert err == (
        "spendsense: SPENDSENSE_API__SESSION_SECRET: Value error, must be at least 32 "
        "characters (e.g. `openssl rand -hex 32`)"
    )
    monkeypatch.setenv("SPENDSENSE_API__SESSION_SECRET", "x" * 32)
    assert main(["config", "check"]) == 0


def test_api_with_a_short_session_secret_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "SPENDSENSE_API__SESSION_SECRET": SHORT_SECRET}
    env["SPENDSENSE_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [str(BIN / "uvicorn"), "api.main:app", "--port", "1", "--no-proxy-headers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("api: SPENDSENSE_API__SESSION_SECRET: "), done.stderr
    assert "Traceback" not in done.stderr
    assert SHORT_SECRET not in done.stderr + done.stdout


def test_generated_session_secret_is_long_enough(tmp_path: Path) -> None:
    generated = session_secret(ApiSettings(), tmp_path).decode()
    assert ApiSettings(session_secret=generated).session_secret is not None  # type: ignore[arg-type]
    assert session_secret(ApiSettings(), tmp_path).decode() == generated


PRODUCTION = {"SPENDSENSE_ENVIRONMENT": "production", "SPENDSENSE_API__COOKIE_SECURE": "true"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPENDSENSE_API__DEMO_MODE", "true"),
        ("SPENDSENSE_AWS__ENDPOINT_URL", "http://127.0.0.1:5055"),
        ("SPENDSENSE_API__COOKIE_SECURE", "false"),
    ],
)
def test_production_refuses_demo_endpoint_override_and_insecure_cookie(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    err = _check(monkeypatch, capsys, **{**PRODUCTION, variable: value})
    assert err.startswith(f"spendsense: {variable}: must be ")
    assert "production" in err
    monkeypatch.setenv("SPENDSENSE_ENVIRONMENT", "development")  # the demo and tests: allowed
    assert main(["config", "check"]) == 0


def test_compose_stack_runs_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch)
    for name, value in compose_service("api")["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings(_env_file=None)
    assert settings.environment == "production"
    monkeypatch.setenv("SPENDSENSE_API__DEMO_MODE", "true")
    with pytest.raises(ConfigError, match="SPENDSENSE_API__DEMO_MODE"):
        load_settings(_env_file=None)


def test_settings_default_to_development() -> None:
    assert Settings(_env_file=None).environment == "development"  # type: ignore[call-arg]
