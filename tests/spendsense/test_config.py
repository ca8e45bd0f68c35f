"""Settings: bad values fail at start with one line; .env.example lists every setting."""

from __future__ import annotations

import pytest

from spendsense.cli import main
from spendsense.commands.config import example
from spendsense.settings import ROOT


def test_env_example_is_current() -> None:
    committed = (ROOT / ".env.example").read_text()
    assert committed == example(), "run: spendsense config example > .env.example"


def test_bad_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPENDSENSE_KAFKA__CONTROLLER_PORT", "not-a-port")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spendsense: SPENDSENSE_KAFKA__CONTROLLER_PORT:")
    assert len(err.splitlines()) == 1


def test_good_settings_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 0
    assert "valid" in capsys.readouterr().out
