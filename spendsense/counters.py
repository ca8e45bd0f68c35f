"""Counters shared by the processes of one host through a small file under ``var_dir``.

An API process answers many requests from what it keeps in memory; a change made by
another process (a log-out in another worker, the projector's new rows) bumps a
counter here, and everything kept under an older count is read again. The file is
8 bytes mapped into each process: reading the count costs no system call; a bump
takes an exclusive ``flock`` so that concurrent bumps are never lost.

>>> import tempfile
>>> from pathlib import Path
>>> tmp = tempfile.TemporaryDirectory()
>>> one, other = SharedCounter(Path(tmp.name) / "c"), SharedCounter(Path(tmp.name) / "c")
>>> before = other.current()
>>> one.bump()
>>> other.current() - before
1
>>> tmp.cleanup()
"""

from __future__ import annotations

import fcntl
import mmap
import os
import threading
from pathlib import Path

_COUNTER = 8  # bytes, little-endian unsigned
SESSION_REVOCATIONS = "api-session-revocations"
PROJECTION_CHANGES = "api-projection-changes"
COST_CHANGES = "cost-changes"


class SharedCounter:
    """A counter shared by every process that maps the same file; opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._fd = -1
        self._open_lock = threading.Lock()

    def _mapped(self) -> mmap.mmap:
        if self._map is None:
            with self._open_lock:
                if self._map is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    if os.fstat(fd).st_size < _COUNTER:
                        os.ftruncate(fd, _COUNTER)
                    self._fd = fd
                    self._map = mmap.mmap(fd, _COUNTER)
        return self._map

    def current(self) -> int:
        return int.from_bytes(self._mapped()[:_COUNTER], "little")

    def bump(self) -> None:
        """Count one more change, visible to every process before this returns."""
        counter = self._mapped()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = (int.from_bytes(counter[:_COUNTER], "little") + 1) % 2 ** (8 * _COUNTER)
            counter[:_COUNTER] = value.to_bytes(_COUNTER, "little")
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def projection_changes(var_dir: Path) -> SharedCounter:
    """Bumped by the projector after each commit that changed the instances projection."""
    return SharedCounter(var_dir / PROJECTION_CHANGES)


def cost_changes(var_dir: Path) -> SharedCounter:
    """Bumped by the collectors after each new Cost Explorer answer they stored."""
    return SharedCounter(var_dir / COST_CHANGES)
