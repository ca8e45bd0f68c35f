"""Shared pieces of the reliability suite: real processes with their logs kept, metrics read.

Every process a reliability test starts writes its output to a file under
``logs_dir`` (one folder for the session), kept for reading after a failure.
``test_no_secrets_in_logs`` starts its own processes and searches what they wrote.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from devstack import stack
from devstack.launch import Child
from spendsense.ports import free_port

# Secrets the reliability suite hands to the processes it starts: none may reach a log.
LINK_KEY = "chaos-link-key-" + uuid.uuid4().hex
SESSION_SECRET = "chaos-session-secret-" + uuid.uuid4().hex


class Secrets:
    """Every secret value a test handed to the processes or saw them create."""

    def __init__(self) -> None:
        self.values: set[str] = {LINK_KEY, SESSION_SECRET}

    def add(self, *values: str) -> None:
        self.values.update(v.strip() for v in values if v and len(v.strip()) >= 8)


class LogRecords(logging.Handler):
    """Keeps every log record the test process emits, formatted with its arguments."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except (TypeError, ValueError):
            self.lines.append(str(record.msg))


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the suite's child processes write their output."""
    return tmp_path_factory.mktemp("reliability-logs")


@pytest.fixture(scope="session", autouse=True)
def test_log_records() -> Iterator[LogRecords]:
    """The test process's own log records for the whole session (root logger, INFO and up)."""
    handler = LogRecords()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level or logging.INFO, logging.INFO))
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


class Processes:
    """Children started by one test, each with a log under ``logs_dir``; all stopped at the end."""

    def __init__(self, logs: Path, name: str) -> None:
        self.logs = logs
        self.name = name
        self.children: list[Child] = []

    def start(self, name: str, env: Mapping[str, str], *, ready: bool = False) -> Child:
        """Start process ``name`` of the table (:mod:`devstack.stack`) with ``env``
        (``ready``: and wait for the table's readiness)."""
        spec = stack.spec(name, env={"SPENDSENSE_LOG_LEVEL": "INFO", **env})
        child = Child.of(spec, self.logs / f"{self.name}-{name}.log")
        child.start()
        self.children.append(child)
        if ready:
            child.wait_ready(spec.ready)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


@pytest.fixture
def processes(logs_dir: Path, request: pytest.FixtureRequest) -> Iterator[Processes]:
    procs = Processes(logs_dir, request.node.name[:60])
    yield procs
    procs.stop_all()


def wait_metric(port: int, needle: str, timeout_s: float, child: Child | None = None) -> str:
    """Wait until ``/metrics`` on ``port`` contains ``needle``; returns the page."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            if needle in text:
                return text
        except httpx.HTTPError:
            pass
        if child is not None and not child.alive():
            break
        time.sleep(0.3)
    tail = child.log_path.read_text(errors="replace")[-3000:] if child else ""
    raise AssertionError(f"{needle!r} not on :{port}/metrics within {timeout_s}s\n{tail}")


def sample(text: str, name: str, labels: str = "") -> float:
    """One sample's value from a Prometheus text page (0 when absent)."""
    prefix = f"{name}{labels} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


__all__ = ["free_port"]
