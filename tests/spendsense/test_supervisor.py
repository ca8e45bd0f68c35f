"""The demo supervisor: readiness, restart of a killed process, nothing left behind."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from devstack.console import Console
from devstack.launch import ProcessSpec
from devstack.readiness import Readiness
from devstack.supervisor import Supervisor
from spendsense.errors import ServiceError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_start_waits_for_readiness_and_stop_leaves_nothing(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    child = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child)!r}, 'w').write(str(p.pid))\n"
        f"time.sleep(0.5); open({str(flag)!r}, 'w').write('x'); print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    out = io.StringIO()
    sup = Supervisor(Console(out, verbose=True))
    sup.start(
        ProcessSpec("svc", [sys.executable, "-c", script], ready=Readiness(check=flag.exists))
    )
    assert flag.exists()
    pid = sup.running["svc"].proc.pid
    grandchild = int(child.read_text())
    sup.stop_all(timeout_s=5)
    time.sleep(0.2)
    assert not _alive(pid)
    assert not _alive(grandchild)  # the whole process group is stopped
    assert "svc" in out.getvalue() and "up" in out.getvalue()


def test_process_exiting_during_start_is_one_clear_error() -> None:
    sup = Supervisor(Console(io.StringIO()))
    script = "print('port 1234 taken'); raise SystemExit(3)"
    with pytest.raises(ServiceError, match=r"(?s)svc exited during start.*port 1234 taken"):
        sup.start(
            ProcessSpec(
                "svc",
                [sys.executable, "-c", script],
                ready=Readiness(check=lambda: False, timeout_s=1),
            )
        )
    sup.stop_all(timeout_s=2)


def test_killed_process_is_restarted() -> None:
    sup = Supervisor(Console(io.StringIO()), restart_delay_s=0.1)
    sup.start(ProcessSpec("svc", [sys.executable, "-c", "import time; time.sleep(60)"]))
    first = sup.running["svc"].proc.pid
    watcher = threading.Thread(target=sup.watch, daemon=True)
    watcher.start()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sup.running["svc"].proc.pid == first:
        time.sleep(0.1)
    second = sup.running["svc"]
    assert second.proc.pid != first and second.restarts == 1
    sup.stop_all(timeout_s=5)
    watcher.join(timeout=5)
    assert not _alive(second.proc.pid)


def test_restart_kills_descendants_in_their_own_session(tmp_path: Path) -> None:
    # bentoml's workers run in sessions of their own: when the parent dies, they would
    # keep its port unless the supervisor remembers and kills them.
    child = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        f"open({str(child)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    sup = Supervisor(Console(io.StringIO()), restart_delay_s=0.1)
    sup.start(
        ProcessSpec("svc", [sys.executable, "-c", script], ready=Readiness(check=child.exists))
    )
    first = sup.running["svc"].proc.pid
    orphan = int(child.read_text())
    watcher = threading.Thread(target=sup.watch, daemon=True)
    watcher.start()
    time.sleep(1.5)  # the watcher notes the descendants while the parent runs
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(orphan):
        time.sleep(0.1)
    assert not _alive(orphan)
    sup.stop_all(timeout_s=5)
    watcher.join(timeout=5)
