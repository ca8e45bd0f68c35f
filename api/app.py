"""The application factory: :func:`create_app` builds the API from settings.

Nothing connects while the app is built; at start (lifespan) the store is brought to
the newest schema with ``ensure_schema``. Readiness is ``/readyz``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from actions.audit import KafkaEventSink
from api.deps import csrf_protect
from api.errors import install_error_handlers
from api.feed import FeedHub
from api.limits import ConcurrencyLimit, StoreReads
from api.logins import LoginCache
from api.metrics import ApiMetrics, TimingMiddleware
from api.pages import STATIC_DIR
from api.routes import ROUTERS
from api.security import Keys, session_secret
from api.services.instance_actions import InstanceActions
from api.services.metric_history import MetricHistory
from api.state import AppState
from spendsense.aws import AwsFactory
from spendsense.counters import (
    SESSION_REVOCATIONS,
    SharedCounter,
    cost_changes,
    projection_changes,
)
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from spendsense.store.engine import make_engine, session_factory
from spendsense.store.migrate import ensure_schema


def pool_capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool hands out at once (size plus overflow);
    ``None`` for pools without a bound.

    >>> import tempfile
    >>> from spendsense.settings import StoreSettings
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     pool_capacity(make_engine(StoreSettings(url=f"sqlite:///{tmp}/x.db")))
    15
    """
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    return pool.size() + max(0, pool._max_overflow)


def pool_steady_size(engine: Engine) -> int:
    """Connections the pool keeps open between bursts (4 for pools without a size).

    >>> from sqlalchemy import create_engine
    >>> pool_steady_size(create_engine("sqlite://", pool_size=3, poolclass=QueuePool))
    3
    """
    pool = engine.pool
    return pool.size() if isinstance(pool, QueuePool) else 4


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    registry: CollectorRegistry | None = None,
    migrate: bool = True,
) -> FastAPI:
    """The API with its routes, error shape, CSRF check, metrics and static assets."""
    engine = engine or make_engine(settings.store)
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics(registry)
    sessions = session_factory(engine)
    aws = AwsFactory(settings.aws)
    events = KafkaEventSink(settings.kafka)  # connects on the first record sent
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keys=Keys(session_secret(settings.api, settings.var_dir)),
        registry=registry,
        metrics=metrics,
        feed=FeedHub(settings.kafka, metrics),
        aws=aws,
        actions=InstanceActions.build(settings, sessions, aws, registry, metrics, events),
        history=MetricHistory.build(aws, registry),
        events=events,
        store_reads=StoreReads(pool_steady_size(engine)),
        projections=projection_changes(settings.var_dir),
        cost_changes=cost_changes(settings.var_dir),
        logins=LoginCache(SharedCounter(settings.var_dir / SESSION_REVOCATIONS))
        if settings.api.session_cache
        else None,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            ensure_schema(engine)
        # Each request's store session holds a pooled connection; with more threads than
        # connections, requests would time out waiting for the pool instead of queueing.
        capacity = pool_capacity(engine)
        if capacity is not None:
            to_thread.current_default_thread_limiter().total_tokens = capacity
        # What start-up built lives as long as the process: kept out of the collector's
        # full passes, which would otherwise walk it again every few thousand requests.
        gc.collect()
        gc.freeze()
        yield
        await state.feed.close()
        await to_thread.run_sync(events.close)

    app = FastAPI(
        title="SpendSense",
        version="0.1.0",
        description="Idle AWS spend: costs, instances, stop, audit, live feed.",
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.spendsense = state
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    capacity = pool_capacity(engine)
    if capacity is not None:
        app.add_middleware(ConcurrencyLimit, limit=capacity)
    app.add_middleware(TimingMiddleware, metrics=metrics)
    return app
