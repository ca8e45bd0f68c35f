"""The one launcher: a child process in a session of its own, its output in a log file
(or piped to the supervisor), stopped with its whole tree.

:func:`launch` starts a process from the table (:mod:`devstack.stack`) and waits for its
readiness probe; the supervisor, the benchmarks and the tests all start processes this way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devstack.readiness import Readiness, wait_ready


@dataclass
class ProcessSpec:
    """One process to start: its name, command, readiness probe and extra environment, and
    where a person reaches it once it is ready (if anywhere)."""

    name: str
    argv: Sequence[str]
    ready: Readiness | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # processes stop tier by tier, highest first: the pipeline (1) before the broker (0)
    tier: int = 1
    url: str | None = None


def kill_tree(pid: int, sig: signal.Signals) -> None:
    """Signal a process, its group and every descendant: some (bentoml's workers) run in
    sessions of their own, so the group alone does not reach them, as a container runtime
    stopping the process's container would."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.send_signal(sig)


class Child:
    """One child process: its output goes to ``log_path``, or to a pipe (``log_path`` None)
    that its owner reads and keeps the tail of in :attr:`tail`."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path | None = None,
        name: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.name = name or Path(self.argv[0]).name
        self.proc: subprocess.Popen[bytes] | None = None
        self.tail: deque[str] = deque(maxlen=20)

    @classmethod
    def of(cls, spec: ProcessSpec, log_path: Path | None = None) -> Child:
        """A child for one row of the table of processes (not yet started)."""
        return cls(spec.argv, spec.env, log_path, name=spec.name)

    def start(self) -> None:
        if self.log_path is None:
            self.proc = self._popen(subprocess.PIPE)
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = self._popen(log)

    def _popen(self, out: int | object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def last_output(self, lines: int = 15) -> str:
        """The last lines it wrote (from its log file, or the piped tail)."""
        if self.log_path is not None and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(list(self.tail)[-lines:]) or "no output"

    def wait_ready(self, readiness: Readiness) -> None:
        """Wait for ``readiness``; kill the child and raise with its last output if it fails."""
        try:
            wait_ready(self.name, readiness, readiness.timeout_s, self.alive, self.last_output)
        except Exception:
            self.stop(signal.SIGKILL)
            raise

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


def launch(spec: ProcessSpec, log_path: Path) -> Child:
    """Start one process of the table and wait until it is ready."""
    child = Child.of(spec, log_path)
    child.start()
    if spec.ready is not None:
        child.wait_ready(spec.ready)
    return child
