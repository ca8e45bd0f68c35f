"""Logins looked up by session token, kept in memory until a session is closed anywhere.

A session row is the authority (``api.deps.find_login``). Reading it costs a store
query and a worker-thread hop per request, most of the time an API request takes, so
each process keeps the logins it has read. An entry is used only while

* its session has not expired (the expiry read with it is checked on every use), and
* no session has been closed since it was read: every log-out (in any worker process
  of this host) bumps a shared counter, and an entry read under
  an older count is read again from the store.

The counter (:class:`spendsense.counters.SharedCounter`) is a file under ``var_dir`` mapped
into every API process: reading it costs no system call. Processes on other hosts do
not share it; run them with ``SPENDSENSE_API__SESSION_CACHE=false``.

>>> import tempfile
>>> from pathlib import Path
>>> from datetime import UTC, datetime, timedelta
>>> tmp = tempfile.TemporaryDirectory()
>>> cache = LoginCache(SharedCounter(Path(tmp.name) / "revocations"))
>>> epoch = cache.epoch()
>>> cache.put("h1", "alice", datetime.now(UTC) + timedelta(hours=1), epoch)
>>> cache.get("h1")
'alice'
>>> cache.revoke()  # a log-out somewhere
>>> cache.get("h1") is None
True
>>> cache.put("h2", "bob", datetime.now(UTC) - timedelta(seconds=1), cache.epoch())
>>> cache.get("h2") is None  # expired
True
>>> tmp.cleanup()
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from spendsense.counters import SharedCounter
from spendsense.store.models.base import utcnow

T = TypeVar("T")
MAX_ENTRIES = 10_000


class LoginCache(Generic[T]):
    """``token hash -> login`` while unexpired and unrevoked (see the module docstring)."""

    def __init__(self, revocations: SharedCounter) -> None:
        self.revocations = revocations
        self._entries: dict[str, tuple[T, datetime, int]] = {}

    def epoch(self) -> int:
        """Read this BEFORE reading a session from the store, and pass it to :meth:`put`:
        a log-out that commits after the read also bumps the count after it."""
        return self.revocations.current()

    def get(self, token_hash: str) -> T | None:
        hit = self._entries.get(token_hash)
        if hit is None:
            return None
        login, expires_at, epoch = hit
        if epoch != self.revocations.current() or expires_at <= utcnow():
            self._entries.pop(token_hash, None)
            return None
        return login

    def put(self, token_hash: str, login: T, expires_at: datetime, epoch: int) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = (login, expires_at, epoch)

    def revoke(self) -> None:
        """Call after a session's deletion is committed: every process drops its logins."""
        self._entries.clear()
        self.revocations.bump()
