"""A small per-tenant cache with a time to live, for figures that many dashboard requests share.

Tenant-wide counts and cost summaries cost a scan each; the dashboards of one tenant
ask for the same figures over and over. Entries live ``ttl_s`` seconds and a
tenant's entries are dropped at once when a person acts through this process.

>>> now = [0.0]
>>> cache = TenantCache(ttl_s=2.0, clock=lambda: now[0])
>>> cache.get("t1", "summary", lambda: 1)
1
>>> cache.get("t1", "summary", lambda: 2)  # still fresh
1
>>> now[0] = 3.0
>>> cache.get("t1", "summary", lambda: 3)
3
>>> cache.forget("t1"); cache.get("t1", "summary", lambda: 4)
4
>>> cache.peek("t1", "summary"), cache.peek("t1", "other")
(4, None)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 10_000


class TenantCache:
    """``(tenant, key) -> value`` for ``ttl_s`` seconds; thread-safe."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str], threading.Lock] = {}

    def peek(self, tenant_id: str, key: str) -> Any | None:
        """The fresh value, or ``None``: lets an async caller skip a thread hop on a hit."""
        with self._lock:
            hit = self._entries.get((tenant_id, key))
        if hit is not None and self.clock() - hit[0] < self.ttl_s:
            return hit[1]
        return None

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
            now = self.clock()
            value = compute()
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                    self._flights.clear()
                self._entries[(tenant_id, key)] = (now, value)
        return value

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == tenant_id]:
                del self._entries[key]
