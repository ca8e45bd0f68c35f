"""The processes the dashboard test scrapes: started here, or a running stack's targets.

``SPENDSENSE_DASHBOARD_TARGETS`` (JSON, ``{"collector": ["127.0.0.1:19301"], ...}``, job
names as in deploy/prometheus/prometheus.yml) points the test at a stack that is already
running, ``spendsense demo`` for instance, and then every job named must pass. Without it
the test starts the pipeline on its own, on a fresh store and isolated topics: the
collector (on the sandbox AWS account), the model service (the session's), the detector
and actions workers, the projector, the API, and node-exporter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spendsense.access import new_external_id
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import add_aws_account, create_tenant, open_store
from tests.fixtures.detector import worker_env
from tests.fixtures.prometheus import free_port
from tests.fixtures.sandbox import Sandbox

BIN = Path(sys.executable).parent
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
LINK_KEY = "k" * 64


@dataclass
class Stack:
    """Scrape targets by job, and the processes this fixture started (if any)."""

    targets: dict[str, list[str]]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: Path | None = None
    api_url: str | None = None

    def log_tail(self, name: str) -> str:
        if self.logs is None:
            return ""
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]


def _wait_http(url: str, stack: Stack, name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stack.processes[name].poll() is not None:
            raise AssertionError(f"{name} exited:\n{stack.log_tail(name)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"{name} not ready at {url} in {timeout_s:.0f}s:\n{stack.log_tail(name)}")


def _start(stack: Stack, name: str, argv: list[str], env: dict[str, str]) -> None:
    assert stack.logs is not None
    log = (stack.logs / f"{name}.log").open("wb")
    stack.processes[name] = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop_all(stack: Stack) -> None:
    for process in stack.processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in stack.processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def stack_targets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """The stack to scrape: SPENDSENSE_DASHBOARD_TARGETS, or processes started here."""
    given = os.environ.get("SPENDSENSE_DASHBOARD_TARGETS")
    if given:
        yield Stack(targets=json.loads(given))
        return
    sandbox: Sandbox = request.getfixturevalue("sandbox")
    kafka: KafkaSettings = request.getfixturevalue("kafka")
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(StoreSettings(url=store_url))
    with store.sessions.begin() as session:
        for tenant, account_id in zip(("acme", "globex"), sandbox.tenant_account_ids, strict=False):
            role_arn, external_id = sandbox.create_role(account_id, external_id=new_external_id())
            create_tenant(session, tenant.title(), tenant_id=tenant)
            add_aws_account(session, tenant, account_id, external_id=external_id, role_arn=role_arn)
    store.dispose()
    key, secret = sandbox.vendor_credentials
    model_url: str = request.getfixturevalue("model_service_url")
    jobs = ("collector", "detector", "actions", "projector", "api", "node")
    ports = {job: free_port() for job in jobs}
    env = {
        **os.environ,
        "SPENDSENSE_VAR_DIR": str(tmp_path / "var"),
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_AWS__ENDPOINT_URL": sandbox.endpoint_url,
        "SPENDSENSE_AWS__ACCESS_KEY_ID": key,
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": secret,
        "SPENDSENSE_AWS__MAX_ATTEMPTS": "2",
        "SPENDSENSE_API__VENDOR_ACCOUNT_ID": sandbox.vendor_account_id,
        "SPENDSENSE_API__PORT": str(ports["api"]),
        "SPENDSENSE_API__PROJECTOR_METRICS_PORT": str(ports["projector"]),
        "SPENDSENSE_API__PROJECTOR_GROUP_ID": f"dash-{uuid.uuid4().hex[:8]}",
        "SPENDSENSE_INGEST__METRICS_PORT": str(ports["collector"]),
        "SPENDSENSE_INGEST__BACKFILL_DAYS": "1",
        "SPENDSENSE_INGEST__REGIONS": json.dumps(["us-east-1", "eu-west-1"]),
        "SPENDSENSE_ACTIONS__METRICS_PORT": str(ports["actions"]),
        "SPENDSENSE_ACTIONS__WEB_PORT": str(free_port()),
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": LINK_KEY,
        "SPENDSENSE_ACTIONS__FLUSH_INTERVAL_S": "1",
        "SPENDSENSE_LOG_LEVEL": "INFO",
    }
    detector_env = {
        **env,
        **worker_env(kafka, model_url, tmp_path / "var"),
        "SPENDSENSE_DETECTOR__METRICS_PORT": str(ports["detector"]),
    }
    stack = Stack(
        targets={
            **{job: [f"127.0.0.1:{port}"] for job, port in ports.items()},
            "model": [model_url.removeprefix("http://")],
        },
        logs=tmp_path,
        api_url=f"http://127.0.0.1:{ports['api']}",
    )
    try:
        _start(
            stack,
            "node",
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports['node']}"],
            env,
        )
        _start(stack, "collector", [str(BIN / "spendsense"), "collect"], env)
        for name, app, web_port, app_env in (
            (
                "detector",
                "detector.app",
                detector_env["SPENDSENSE_DETECTOR__WEB_PORT"],
                detector_env,
            ),
            ("actions", "actions.app", env["SPENDSENSE_ACTIONS__WEB_PORT"], env),
        ):
            faust = [str(BIN / "faust"), "-A", app, "worker", "-l", "info", "--web-port", web_port]
            _start(stack, name, faust, app_env)
        _start(stack, "projector", [str(BIN / "spendsense"), "project"], env)
        _start(
            stack,
            "api",
            [
                str(BIN / "uvicorn"),
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["api"]),
            ],
            env,
        )
        for job in ("node", "collector", "projector", "detector", "actions"):
            _wait_http(f"http://127.0.0.1:{ports[job]}/metrics", stack, job)
        _wait_http(f"{stack.api_url}/readyz", stack, "api")
        yield stack
    finally:
        _stop_all(stack)
