"""The live feed: the caller's tenant's detections and actions as Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import StateDep, ViewerLogin, read_login_now
from api.errors import ERROR_RESPONSES, ApiError

router = APIRouter(tags=["feed"], responses=ERROR_RESPONSES)

KEEPALIVE_S = 15.0
READY_WAIT_S = 10.0


@router.get(
    "/api/feed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
)
async def feed(request: Request, state: StateDep, login: ViewerLogin) -> StreamingResponse:
    """``event: detection`` and ``event: action`` records of your tenant, as they happen.

    The first event, ``ready``, says whether the feed is reading Kafka
    (``{"kafka": true}``): from then on nothing published is missed. The session is
    checked again every ``feed_recheck_s``: once it is closed (logged out, expired) the
    feed sends ``event: end`` and ends. 429 past ``feed_max_per_user`` open feeds.
    """
    # No request-scoped store session: it would hold a pooled connection for the
    # stream's whole life. The login is looked up in short sessions of its own.
    settings = state.settings.api
    hub = state.feed
    queue = hub.subscribe(login.tenant_id, login.user_id, settings.feed_max_per_user)
    if queue is None:
        raise ApiError(
            429,
            "too_many_feeds",
            f"{settings.feed_max_per_user} live feeds are open for you: close a dashboard tab "
            "and reload",
            headers={"Retry-After": str(math.ceil(KEEPALIVE_S))},
        )
    loop = asyncio.get_running_loop()

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.ready.wait(), READY_WAIT_S)
            reading = hub.ready.is_set()
            yield hub.format_event("ready", {"kafka": reading})
            check_at = loop.time() + settings.feed_recheck_s
            while not await request.is_disconnected():
                if loop.time() >= check_at:
                    if await run_in_threadpool(read_login_now, state, login.token_hash) is None:
                        yield hub.format_event("end", {"reason": "session closed: log in again"})
                        return
                    check_at = loop.time() + settings.feed_recheck_s
                try:
                    wait = min(KEEPALIVE_S, max(0.0, check_at - loop.time()))
                    yield await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    yield ": keepalive\n\n"
                if hub.ready.is_set() != reading:  # Kafka came (back) or went: say so
                    reading = hub.ready.is_set()
                    yield hub.format_event("ready", {"kafka": reading})
        finally:
            hub.unsubscribe(login.tenant_id, login.user_id, queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
