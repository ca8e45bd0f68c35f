"""The actions worker's one Faust app: ``faust -A actions.app worker -l info --web-port 6067``.

Faust finds the module attribute ``app``, built from :func:`spendsense.settings.settings_or_exit`
(the process edge); :func:`create_app` builds the same from any settings (tests give their
own topic prefix, which the app id carries, so consumer groups are isolated too).

On start the worker opens the store (migrating it), serves Prometheus metrics on
``actions.metrics_port`` (9303; ``/metrics`` answering is the readiness check) and Faust's
web server on ``actions.web_port`` (6067). The ``alerts`` agent (concurrency 1: faust
issue 606) consumes ``detections``; records failing their schema or naming a tenant the
store does not know go to ``deadletter`` (with the reason, counted by outcome). A
timer (every ``actions.flush_interval_s``) retries due emails, sends digests whose
cooldown ended and reconciles emails a dead worker left behind.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import faust
import mode
from faust import Stream
from faust.types import EventT, StreamT

from actions.coalesce import coalesce
from actions.runtime import ActionsRuntime, build_runtime
from spendsense.errors import PoisonRecord
from spendsense.events import DeadLetter, DetectionRecord, parse_event
from spendsense.faust_worker import Worker
from spendsense.metrics import CollectorRegistry, serve_metrics
from spendsense.settings import Settings, settings_or_exit
from spendsense.topics import DEADLETTER, DETECTIONS, topic_name

log = logging.getLogger(__name__)

APP_ID = "spendsense-actions"


@dataclass
class RuntimeSlot:
    """The runtime, once the worker built it at start; agents wait for ``ready``."""

    runtime: ActionsRuntime | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class ActionsWorker:
    """The app, its agent, its metrics registry and the runtime slot the agent drives."""

    app: faust.App
    agent: faust.types.AgentT
    registry: CollectorRegistry
    slot: RuntimeSlot


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> ActionsWorker:
    """Build the actions worker's Faust app (nothing connects until it starts)."""
    kafka, cfg = settings.kafka, settings.actions
    app_id = f"{kafka.topic_prefix}{APP_ID}"
    datadir = settings.var_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=";".join(f"kafka://{hp}" for hp in kafka.bootstrap_servers.split(",")),
        store="memory://",
        datadir=str(datadir / app_id),
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=cfg.session_timeout_s,
        broker_heartbeat_interval=cfg.heartbeat_interval_s,
        web_port=cfg.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        Worker=Worker,  # its log handlers redact secrets
    )
    detections = app.topic(
        topic_name(kafka, DETECTIONS), key_serializer="raw", value_serializer="raw"
    )
    deadletter = app.topic(
        topic_name(kafka, DEADLETTER), key_serializer="raw", value_serializer="raw"
    )
    reg = registry or CollectorRegistry()
    slot = RuntimeSlot()

    @app.agent(detections, name="alerts", concurrency=1)
    async def alerts(stream: StreamT) -> None:
        await slot.ready.wait()
        batches = cast(Stream, stream).noack_take(
            cfg.batch_size, within=cfg.batch_latency_ms / 1000
        )
        async for batch in batches:
            events = cast(list[EventT], batch)
            runtime = slot.runtime
            assert runtime is not None
            parsed: list[tuple[EventT, DetectionRecord]] = []
            for event in events:
                try:
                    parsed.append((event, parse_event(DetectionRecord, event.value)))
                except PoisonRecord as exc:
                    runtime.metrics.records.labels(outcome="poison").inc()
                    await dead_letter(event, str(exc))
            for det, stands_for in coalesce(parsed):
                verdict = await asyncio.to_thread(runtime.handle, det)
                if verdict == "unknown-tenant":
                    runtime.metrics.records.labels(outcome="unknown-tenant").inc(len(stands_for))
                    reason = f"unknown-tenant: {det.tenant_id!r} is not in the store"
                    for event in stands_for:
                        await dead_letter(event, reason)
                    continue
                runtime.metrics.records.labels(outcome="ok").inc(len(stands_for))
            for event in events:  # only once every detection of the batch was handled
                await stream.ack(event)

    async def dead_letter(event: faust.types.EventT, reason: str) -> None:
        letter = DeadLetter(
            source_topic=event.message.topic,
            partition=event.message.partition,
            offset=event.message.offset,
            reason=reason,
            raw=(event.value or b"").decode(errors="replace")[:10_000],
            at=datetime.now(UTC),
        )
        await deadletter.send(key=DETECTIONS.encode(), value=letter.to_bytes())

    @app.timer(interval=cfg.flush_interval_s)
    async def tick() -> None:
        if slot.runtime is not None:
            await asyncio.to_thread(slot.runtime.tick)

    @app.service
    class Runtime(mode.Service):
        """Builds the runtime and the metrics server when the worker starts."""

        async def on_start(self) -> None:
            slot.runtime = await asyncio.to_thread(build_runtime, settings, reg)
            await asyncio.to_thread(slot.runtime.alerts.reconcile)
            if cfg.metrics_port:
                serve_metrics(reg, cfg.metrics_port)
            slot.ready.set()
            log.info("actions worker ready (metrics on port %s)", cfg.metrics_port)

        async def on_stop(self) -> None:
            if slot.runtime is not None:
                slot.runtime.close()

    return ActionsWorker(app=app, agent=alerts, registry=reg, slot=slot)


worker = create_app(settings_or_exit("actions worker"))
app = worker.app
