"""``spendsense sandbox``: the ready line, a clean stop on SIGTERM, one clear line on bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.accounts import VENDOR_USER, user_credentials
from spendsense.cli import main
from spendsense.ports import free_port
from spendsense.settings import get_settings
from tests.fixtures.sandbox import Sandbox

COMMAND = [sys.executable, "-m", "spendsense.cli", "sandbox"]


def test_ready_line_health_and_clean_stop(sandbox_fleet_dir: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "--fleet", str(sandbox_fleet_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith(f"sandbox ready at http://127.0.0.1:{port} (24 instances")
        health = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=10).json()
        assert health["status"] == "ready" and health["instances"] == 24
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.strip() == "sandbox stopped"
    with httpx.Client() as client:
        try:
            client.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=2)
            still_up = True
        except httpx.ConnectError:
            still_up = False
    assert not still_up


def test_port_taken_is_one_clear_line(sandbox: Sandbox, sandbox_fleet_dir: Path) -> None:
    port = sandbox.endpoint_url.rsplit(":", 1)[1]
    done = subprocess.run(
        [*COMMAND, "--fleet", str(sandbox_fleet_dir), "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"spendsense: port {port} on 127.0.0.1 is already taken; stop what uses it or pick another "
        "with --port (or SPENDSENSE_SANDBOX__PORT)"
    )


def test_malformed_fleet_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "instances.json").write_text("[{")
    assert main(["sandbox", "--fleet", str(tmp_path), "--port", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"spendsense: {tmp_path / 'instances.json'}: not valid JSON")


def test_print_env_names_the_endpoint_and_vendor_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "5999", "--print-env"]) == 0
    env = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    key, secret = user_credentials(get_settings().sandbox.vendor_account_id, VENDOR_USER)
    assert env == {
        "SPENDSENSE_AWS__ENDPOINT_URL": "http://127.0.0.1:5999",
        "SPENDSENSE_AWS__ACCESS_KEY_ID": key,
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": secret,
    }
