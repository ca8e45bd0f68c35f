"""A small per-tenant cache with a time to live, for figures that many dashboard requests share.

Tenant-wide counts and cost summaries cost a scan each; the dashboards of one tenant
ask for the same figures over and over. An entry is fresh for ``ttl_s`` seconds.
After that :func:`kept` still answers with it while one background refresh reads it
again (stale while revalidate), so that an expiry never makes a crowd of requests wait
for the store at once; an entry older than ``MAX_STALE_TTLS`` TTLs (no request refreshed
it lately) is read again before it is answered.

>>> now = [0.0]
>>> cache = TenantCache(ttl_s=2.0, clock=lambda: now[0])
>>> cache.get("t1", "summary", lambda: 1)
1
>>> cache.get("t1", "summary", lambda: 2)  # still fresh
1
>>> now[0] = 3.0
>>> cache.lookup("t1", "summary")  # stale: usable while it is read again
(1, False)
>>> cache.claim("t1", "summary"), cache.claim("t1", "summary")  # one refresher
(True, False)
>>> cache.refresh("t1", "summary", lambda: 3)
3
>>> cache.lookup("t1", "summary"), cache.lookup("t1", "other")
((3, True), None)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 10_000
MAX_STALE_TTLS = 2  # an entry older than this many TTLs is never answered

log = logging.getLogger(__name__)


class TenantCache:
    """``(tenant, key) -> value`` for ``ttl_s`` seconds; thread-safe. Past ``max_entries``
    entries it starts again empty."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str], threading.Lock] = {}
        self._refreshing: set[tuple[str, str]] = set()

    def lookup(self, tenant_id: str, key: str) -> tuple[Any, bool] | None:
        """The kept value and whether it is fresh; ``None`` if absent or too old to use."""
        with self._lock:
            hit = self._entries.get((tenant_id, key))
        if hit is None:
            return None
        age = self.clock() - hit[0]
        if age >= self.ttl_s * MAX_STALE_TTLS:
            return None
        return hit[1], age < self.ttl_s

    def peek(self, tenant_id: str, key: str) -> Any | None:
        """The fresh value, or ``None``."""
        hit = self.lookup(tenant_id, key)
        return hit[0] if hit is not None and hit[1] else None

    def get(self, tenant_id: str, key: str, compute: Callable[[], T]) -> T:
        """The fresh value, else ``compute()``'s; callers that miss together wait for
        one computation instead of each running their own."""
        hit = self.peek(tenant_id, key)
        if hit is not None:
            value: T = hit
            return value
        with self._lock:
            flight = self._flights.setdefault((tenant_id, key), threading.Lock())
        with flight:
            hit = self.peek(tenant_id, key)
            if hit is not None:
                value = hit
                return value
            return self._store(tenant_id, key, compute)

    def claim(self, tenant_id: str, key: str) -> bool:
        """``True`` for the one caller that is to :meth:`refresh` a stale entry."""
        with self._lock:
            if (tenant_id, key) in self._refreshing:
                return False
            self._refreshing.add((tenant_id, key))
            return True

    def refresh(self, tenant_id: str, key: str, compute: Callable[[], T]) -> T:
        """Compute the entry again (the claimant of :meth:`claim`); the claim ends either way."""
        try:
            return self._store(tenant_id, key, compute)
        finally:
            with self._lock:
                self._refreshing.discard((tenant_id, key))

    def _store(self, tenant_id: str, key: str, compute: Callable[[], T]) -> T:
        now = self.clock()
        value = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
                self._flights.clear()
            self._entries[(tenant_id, key)] = (now, value)
        return value


Runner = Callable[..., Coroutine[Any, Any, Any]]
_background: set[asyncio.Task[Any]] = set()


async def kept(
    cache: TenantCache, tenant_id: str, key: str, compute: Callable[[], T], run: Runner
) -> T:
    """The kept value on the event loop; a stale one starts one refresh through ``run``
    (which runs a blocking call in a worker thread) and is answered meanwhile; only a
    missing one is waited for.

    >>> async def inline(func, *args):
    ...     return func(*args)
    >>> cache = TenantCache(ttl_s=60.0)
    >>> asyncio.run(kept(cache, "t1", "page", lambda: b"{}", inline))
    b'{}'
    """
    hit = cache.lookup(tenant_id, key)
    if hit is None:
        value: T = await run(cache.get, tenant_id, key, compute)
        return value
    value, fresh = hit
    if not fresh and cache.claim(tenant_id, key):
        task: asyncio.Task[Any] = asyncio.create_task(run(cache.refresh, tenant_id, key, compute))
        _background.add(task)
        task.add_done_callback(_finished)
    return value


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("refreshing a kept figure failed: %s", task.exception())
