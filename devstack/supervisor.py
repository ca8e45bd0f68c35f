"""A small process supervisor for running the local stack (``spendsense demo``).

Processes start in order, each waited on until its readiness probe answers; each line
they write goes to their log file (``<log_dir>/<name>.log``) and to the
:class:`~devstack.console.Console`, which decides what to show; one that exits is
restarted after a pause; on Ctrl-C or SIGTERM every process group is stopped (SIGTERM,
then SIGKILL) so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devstack import milestones
from devstack.console import Console
from devstack.launch import Child, ProcessSpec, kill_tree
from devstack.readiness import wait_ready


@dataclass
class Running:
    """A started process with the tail of its output (for error messages)."""

    spec: ProcessSpec
    child: Child
    restarts: int = 0
    # descendants seen while it ran (pid -> start time): some start sessions of their own
    # (bentoml's workers), so its process group does not reach them once it has died
    descendants: dict[int, float] = field(default_factory=dict)

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        assert self.child.proc is not None
        return self.child.proc

    @property
    def tail(self) -> deque[str]:
        return self.child.tail

    def note_descendants(self) -> None:
        """Remember the process's current descendants."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            with contextlib.suppress(psutil.Error):
                self.descendants.setdefault(child.pid, child.create_time())

    def kill_leftovers(self) -> None:
        """SIGKILL every remembered descendant still alive (checked by start time)."""
        for pid, started in self.descendants.items():
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                if child.create_time() == started:
                    child.kill()


class Supervisor:
    """Starts, watches, restarts and stops a set of processes; their output goes to a log
    file each under ``log_dir`` (none without it) and to ``console`` (by default, every line
    on stdout)."""

    def __init__(
        self,
        console: Console | None = None,
        log_dir: Path | None = None,
        restart_delay_s: float = 2.0,
    ) -> None:
        self.console = console or Console(sys.stdout, verbose=True)
        self.log_dir = log_dir
        self.restart_delay_s = restart_delay_s
        self.running: dict[str, Running] = {}
        self._stopping = threading.Event()

    def log_path(self, name: str) -> Path | None:
        """Where ``name``'s output goes."""
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def _pump(self, run: Running) -> None:
        stream = run.proc.stdout
        assert stream is not None
        name = run.spec.name
        path = self.log_path(name)
        with contextlib.ExitStack() as files:
            log = None
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                log = files.enter_context(path.open("a", encoding="utf-8"))
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                run.tail.append(line)
                if log is not None:
                    print(line, file=log, flush=True)
                self.console.output(name, line, path)

    def _spawn(self, spec: ProcessSpec) -> Running:
        child = Child.of(spec)
        child.start()
        run = Running(spec, child)
        threading.Thread(target=self._pump, args=(run,), daemon=True).start()
        return run

    def start(self, spec: ProcessSpec) -> None:
        """Start ``spec`` and wait for its readiness probe; raise with its last output on failure."""
        run = self._spawn(spec)
        self.running[spec.name] = run
        if spec.ready is not None:
            wait_ready(
                spec.name, spec.ready, spec.ready.timeout_s, run.child.alive, run.child.last_output
            )
        self.console.milestone(milestones.ready(spec.name, spec.url))

    def watch(self) -> None:
        """Block until stopped, restarting any process that exits."""
        while not self._stopping.wait(1.0):
            for name, run in list(self.running.items()):
                code = run.proc.poll()
                if code is None:
                    run.note_descendants()
                    continue
                if self._stopping.is_set():
                    continue
                self.console.exited(name, code, self.log_path(name))
                run.kill_leftovers()  # a worker left behind would hold the port
                time.sleep(self.restart_delay_s)
                restarted = self._spawn(run.spec)
                restarted.restarts = run.restarts + 1
                self.running[name] = restarted

    def request_stop(self, *_: object) -> None:
        """Ask :meth:`watch` to return (safe from a signal handler)."""
        self._stopping.set()

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """Stop every process group, highest tier first; SIGTERM, then SIGKILL after the timeout."""
        self._stopping.set()
        runs = list(self.running.values())
        if runs:
            self.console.stopping()
        for tier in sorted({run.spec.tier for run in runs}, reverse=True):
            self._stop_group([run for run in runs if run.spec.tier == tier], timeout_s)
        self.running.clear()

    @staticmethod
    def _stop_group(runs: list[Running], timeout_s: float) -> None:
        for run in runs:
            if run.proc.poll() is None:
                run.note_descendants()
                kill_tree(run.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for run in runs:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                run.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                kill_tree(run.proc.pid, signal.SIGKILL)
                run.proc.wait()
            run.kill_leftovers()

    def run_forever(self) -> None:
        """Watch until Ctrl-C/SIGTERM, then stop everything."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        try:
            self.watch()
        finally:
            self.stop_all()
