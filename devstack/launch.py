"""Start the model service and the detector worker as child processes and wait until ready.

The commands are the ones a user runs (``bentoml serve detector.service:ModelService`` and
``faust -A detector.app worker``); settings reach them as ``SPENDSENSE_*`` environment
variables. Used by the pipeline benchmark and the tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from devstack.supervisor import kill_tree
from spendsense.errors import ServiceError

BIN = Path(sys.executable).parent


class Child:
    """One child process with its log file; stopped with SIGTERM (SIGKILL after a grace)."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.argv = argv
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 20.0) -> int | None:
        """Signal the process tree; wait up to ``grace_s``, then kill it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            kill_tree(self.proc.pid, signal.Signals(sig))
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                kill_tree(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def wait_http(self, url: str, timeout_s: float) -> None:
        """Wait until ``url`` answers 200, or raise with the log's last lines."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                break
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
        self.stop(signal.SIGKILL)
        raise ServiceError(f"{self.argv[0]} not ready at {url}:\n" + "\n".join(tail))


def model_service(port: int, env: Mapping[str, str], log_path: Path) -> Child:
    """``bentoml serve detector.service:ModelService --port PORT`` (not yet started)."""
    argv = [str(BIN / "bentoml"), "serve", "detector.service:ModelService", "--port", str(port)]
    return Child(argv, env, log_path)


def detector_worker(env: Mapping[str, str], log_path: Path, app: str = "detector.app") -> Child:
    """``faust -L uvloop -A detector.app worker -l info`` (not yet started); ``app``: another
    Faust app module with the same command line."""
    return Child(
        [str(BIN / "faust"), "-L", "uvloop", "-A", app, "worker", "-l", "info"], env, log_path
    )
