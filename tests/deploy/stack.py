"""The compose stack as the deployment test runs it: docker-compose.yml with the test's
override (compose.test.yml), its environment, and the sandbox AWS account beside it.

:class:`ComposeStack` runs ``docker compose`` for one project (``spendsense-test``),
brings it up waiting for every health check (timed), and joins the sandbox container to
its network as ``sandbox``. Any step that fails raises with what the stack said, so the
test fails, never skips.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.accounts import VENDOR_USER, user_credentials
from spendsense.ports import free_port
from spendsense.settings import SandboxSettings
from tests.deploy.images import OVERRIDE, PROJECT_IMAGE, WORK
from tests.fixtures.compose import COMPOSE, ROOT

PROJECT = "spendsense-test"
NETWORK = f"{PROJECT}_default"
SANDBOX_ALIAS = "sandbox"
UP_TIMEOUT_S = 900
OPERATOR_EMAIL = "operator@deploy.example"
"""SpendSense's operator in the test stack: the one log-in nginx lets through to Prometheus."""


def self_signed_tls(folder: Path) -> Path:
    """``fullchain.pem`` and ``privkey.pem`` for 127.0.0.1, as nginx reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder


def stack_environment() -> dict[str, str]:
    """What docker compose reads: the required secrets (fresh), the ports, the sandbox's key."""
    vendor = SandboxSettings().vendor_account_id
    key, secret = user_credentials(vendor, VENDOR_USER)
    https_port = free_port()
    return {
        "COMPOSE_PROJECT_NAME": PROJECT,
        "SPENDSENSE_IMAGE": PROJECT_IMAGE,
        "POSTGRES_PASSWORD": secrets.token_hex(24),
        "SPENDSENSE_PUBLIC_URL": f"https://127.0.0.1:{https_port}",
        "SPENDSENSE_SENDER": SandboxSettings().sender,
        "SPENDSENSE_LINK_SIGNING_KEY": secrets.token_hex(32),
        "SPENDSENSE_SESSION_SECRET": secrets.token_hex(32),
        "SPENDSENSE_VENDOR_ACCOUNT_ID": vendor,
        "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(12),
        "SPENDSENSE_TLS_DIR": str(self_signed_tls(WORK / "tls")),
        "SPENDSENSE_ACME_DIR": str(WORK / "acme"),
        "HTTP_PORT": str(free_port()),
        "HTTPS_PORT": str(https_port),
        "SPENDSENSE_OPERATOR_EMAILS": json.dumps([OPERATOR_EMAIL]),
        "KAFKA_HEAP": "512m",
        "SANDBOX_ACCESS_KEY_ID": key,
        "SANDBOX_SECRET_ACCESS_KEY": secret,
    }


@dataclass
class ComposeStack:
    """One compose project of docker-compose.yml + compose.test.yml."""

    env: dict[str, str]
    sandbox_container: str
    up_seconds: list[float] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.env["SPENDSENSE_PUBLIC_URL"]

    @staticmethod
    def command() -> list[str]:
        """``docker compose`` with the shipped file and the test's override."""
        return ["docker", "compose", "-f", str(COMPOSE), "-f", str(OVERRIDE)]

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``docker compose -f docker-compose.yml -f compose.test.yml <args>``."""
        proc = subprocess.run(
            [*self.command(), *args],
            env={**os.environ, **self.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=UP_TIMEOUT_S + 60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} failed:\n{proc.stderr[-3000:]}\n{self.report()}"
            )
        return proc

    def up(self) -> float:
        """Start every service and wait for all health checks; the seconds it took."""
        began = time.monotonic()
        self.compose("up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S))
        took = time.monotonic() - began
        self.up_seconds.append(took)
        self.docker("network", "connect", "--alias", SANDBOX_ALIAS, NETWORK, self.sandbox_container)
        return took

    def down(self, *options: str) -> None:
        """``docker compose down`` (volumes kept unless ``-v`` is given)."""
        self.docker("network", "disconnect", NETWORK, self.sandbox_container, check=False)
        self.compose("down", "--remove-orphans", *options)

    def services(self) -> dict[str, dict[str, Any]]:
        """``docker compose ps``: each service's state and health."""
        out = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def exec(self, service: str, *command: str) -> str:
        """A command in a running service's container; its output."""
        return self.compose("exec", "-T", service, *command).stdout

    def report(self) -> str:
        """Each service's state, and the last log lines of those not healthy."""
        proc = subprocess.run(
            [*self.command(), "ps", "--all", "--format", "json"],
            env={**os.environ, **self.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = []
        for row in (json.loads(line) for line in proc.stdout.splitlines() if line.strip()):
            lines.append(f"{row['Service']}: {row['Status']}")
            if "(healthy)" not in row["Status"]:
                logs = self.docker("logs", "--tail", "25", row["ID"], check=False)
                lines.append(f"--- {row['Service']} ---\n{logs}")
        return "\n".join(lines)

    @staticmethod
    def docker(*args: str, check: bool = True) -> str:
        """``docker <args>``; its output (with the errors when not checked)."""
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout + proc.stderr
