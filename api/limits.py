"""At most as many requests at work as the store's pool has connections; the rest wait.

:class:`StoreReads` bounds the short per-request reads (the session lookup) to the
pool's steady size, so that a burst neither opens and closes overflow connections
nor crowds the worker threads.

A request's store session holds a pooled connection from its first query until the
response is sent. Without a bound, a burst of requests checks out more connections
than the pool has and the overflow times out; with this middleware they wait their
turn in the event loop instead (cheap), and the measured latency includes the wait.
Long-lived streams (the live feed), static files and nginx's log-in check (its one read
goes through :class:`StoreReads`) are not counted: they hold no session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

T = TypeVar("T")

UNCOUNTED = ("/static/", "/api/feed", "/metrics", "/healthz", "/api/auth/check")


class ConcurrencyLimit:
    """Pure ASGI middleware with one semaphore per event loop."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphores: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNCOUNTED):
            await self.app(scope, receive, send)
            return
        async with self._semaphore():
            await self.app(scope, receive, send)


class StoreReads:
    """Runs short blocking store reads in worker threads, at most ``limit`` at once.

    >>> import asyncio
    >>> asyncio.run(StoreReads(2).run(sum, [1, 2, 3]))
    6
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._limiters: dict[asyncio.AbstractEventLoop, CapacityLimiter] = {}

    def _limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.limit)
        return limiter

    async def run(self, func: Callable[..., T], *args: object) -> T:
        return await to_thread.run_sync(func, *args, limiter=self._limiter())
