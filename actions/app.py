"""The actions worker's one Faust app: ``faust -A actions.app worker -l info --web-port 6067``.

Faust finds the module attribute ``app``, built from :func:`spendsense.settings.settings_or_exit`
(the process edge); :func:`create_app` builds the same from any settings (tests give their
own topic prefix, which the app id carries, so consumer groups are isolated too).

On start the worker opens the store (migrating it), serves Prometheus metrics on
``actions.metrics_port`` (9303; ``/metrics`` answering is the readiness check) and Faust's
web server on ``actions.web_port`` (6067). The ``alerts`` agent (concurrency 1: faust
issue 606) consumes ``detections``, the ``anomaly-alerts`` agent ``anomalies`` (the
digest's second section, under the same cooldown) and the ``waste-alerts`` agent ``waste``
(its third, wasted resources by kind), and the ``channel-notices`` agent ``actions``
(stops, starts and failures to the notification channels); records failing their schema or naming
a tenant the store does not know go to ``deadletter`` (with the reason, counted by
outcome). A
timer (every ``actions.flush_interval_s``) retries due emails, sends digests whose
cooldown ended and reconciles emails a dead worker left behind.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, cast

import faust
import mode
from faust import Stream
from faust.types import EventT, StreamT

from actions.coalesce import coalesce
from actions.runtime import ActionsRuntime, build_runtime
from actions.schedules.scheduler import TICK_S, Scheduler
from spendsense.errors import PoisonRecord
from spendsense.events import DeadLetter, DetectionRecord
from spendsense.faust_worker import Worker
from spendsense.kafka_clients import WORKER_METADATA_MAX_AGE_MS, faust_config
from spendsense.metrics import CollectorRegistry, serve_metrics
from spendsense.settings import ActionsSettings, Settings, settings_or_exit
from spendsense.topics import (
    ACTIONS,
    ACTIONS_SPEC,
    ANOMALIES,
    ANOMALIES_SPEC,
    DEADLETTER,
    DEADLETTER_SPEC,
    DETECTIONS,
    DETECTIONS_SPEC,
    WASTE,
    WASTE_SPEC,
    TopicSpec,
    topic_name,
)

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
    """Build the actions worker's Faust app (nothing connects until it starts).

    The steps, in order: the Faust app from the settings, its topics, the ``alerts`` and
    ``anomaly-alerts`` agents, the flush timer, and the service that builds the runtime (store, sinks, alert and stop
    services) and serves the metrics when the worker starts.
    """
    app = faust_app(settings)
    topics = declare_topics(app, settings)
    reg = registry or CollectorRegistry()
    slot = RuntimeSlot()
    agent = alerts_agent(app, topics, settings.actions, slot)
    anomalies_agent(app, topics, slot)
    waste_agent(app, topics, slot)
    channel_agent(app, topics, slot)
    flush_timer(app, settings.actions, slot)
    schedule_timer(app, slot)
    runtime_service(app, settings, reg, slot)
    return ActionsWorker(app=app, agent=agent, registry=reg, slot=slot)


def faust_app(settings: Settings) -> faust.App:
    """The actions worker's Faust app settings (broker, store, consumer and web server)."""
    kafka, cfg = settings.kafka, settings.actions
    app_id = f"{kafka.topic_prefix}{APP_ID}"
    datadir = settings.var_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        **faust_config(kafka),
        consumer_metadata_max_age_ms=WORKER_METADATA_MAX_AGE_MS,
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


@dataclass(frozen=True)
class Topics:
    """The topics the worker reads (``detections``, ``anomalies``, ``waste``) and writes
    (``deadletter``)."""

    detections: faust.types.TopicT
    anomalies: faust.types.TopicT
    deadletter: faust.types.TopicT
    waste: faust.types.TopicT
    actions: faust.types.TopicT


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    """Declare ``detections``, ``anomalies``, ``waste`` and ``deadletter`` on ``app`` (raw
    bytes, keys and values)."""

    def raw(base: str) -> faust.types.TopicT:
        return app.topic(
            topic_name(settings.kafka, base), key_serializer="raw", value_serializer="raw"
        )

    return Topics(
        detections=raw(DETECTIONS),
        anomalies=raw(ANOMALIES),
        deadletter=raw(DEADLETTER),
        waste=raw(WASTE),
        actions=raw(ACTIONS),
    )


def alerts_agent(
    app: faust.App, topics: Topics, cfg: ActionsSettings, slot: RuntimeSlot
) -> faust.types.AgentT:
    """Declare the ``alerts`` agent: parse, coalesce and handle each batch, then acknowledge."""

    @app.agent(topics.detections, name="alerts", concurrency=1)
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
                    parsed.append((event, DETECTIONS_SPEC.parse(event.value)))
                except PoisonRecord as exc:
                    runtime.metrics.records.labels(outcome="poison").inc()
                    await dead_letter(topics, event, str(exc))
            for det, stands_for in coalesce(parsed):
                verdict = await asyncio.to_thread(runtime.handle, det)
                if verdict == "unknown-tenant":
                    runtime.metrics.records.labels(outcome="unknown-tenant").inc(len(stands_for))
                    reason = f"unknown-tenant: {det.tenant_id!r} is not in the store"
                    for event in stands_for:
                        await dead_letter(topics, event, reason)
                    continue
                runtime.metrics.records.labels(outcome="ok").inc(len(stands_for))
            for event in events:  # only once every detection of the batch was handled
                await stream.ack(event)

    return alerts


def anomalies_agent(app: faust.App, topics: Topics, slot: RuntimeSlot) -> faust.types.AgentT:
    """Declare the ``anomaly-alerts`` agent: each anomaly record parsed and handled in turn
    (an incident gives two records, so there is nothing to coalesce)."""
    return record_agent(
        app, topics, topics.anomalies, "anomaly-alerts", slot, ANOMALIES_SPEC, "handle_anomaly"
    )


def waste_agent(app: faust.App, topics: Topics, slot: RuntimeSlot) -> faust.types.AgentT:
    """Declare the ``waste-alerts`` agent: each waste record parsed and handled in turn
    (the digest's waste section)."""
    return record_agent(app, topics, topics.waste, "waste-alerts", slot, WASTE_SPEC, "handle_waste")


def channel_agent(app: faust.App, topics: Topics, slot: RuntimeSlot) -> faust.types.AgentT:
    """Declare the ``channel-notices`` agent: each ``actions`` record (stops, starts,
    failures, from this worker or the dashboard) to the channels subscribed to it. Not
    counted in ``records_total`` (the worker's own e-mail records come back here)."""

    @app.agent(topics.actions, name="channel-notices", concurrency=1)
    async def channel_notices(stream: StreamT) -> None:
        await slot.ready.wait()
        async for event in stream.events():
            runtime = slot.runtime
            assert runtime is not None
            try:
                rec = ACTIONS_SPEC.parse(event.value)
            except PoisonRecord as exc:
                await dead_letter(topics, event, str(exc))
                continue
            await asyncio.to_thread(runtime.handle_action, rec)

    return channel_notices


def record_agent(
    app: faust.App,
    topics: Topics,
    topic: faust.types.TopicT,
    name: str,
    slot: RuntimeSlot,
    spec: TopicSpec[Any],
    handler: str,
) -> faust.types.AgentT:
    """Declare an agent that parses each record of ``topic`` with ``spec`` and hands it to
    the runtime's ``handler`` method; poison and unknown tenants go to ``deadletter``."""

    @app.agent(topic, name=name, concurrency=1)
    async def handle_records(stream: StreamT) -> None:
        await slot.ready.wait()
        async for event in stream.events():
            runtime = slot.runtime
            assert runtime is not None
            try:
                rec = spec.parse(event.value)
            except PoisonRecord as exc:
                runtime.metrics.records.labels(outcome="poison").inc()
                await dead_letter(topics, event, str(exc))
                continue
            verdict = await asyncio.to_thread(getattr(runtime, handler), rec)
            if verdict == "unknown-tenant":
                runtime.metrics.records.labels(outcome="unknown-tenant").inc()
                await dead_letter(
                    topics, event, f"unknown-tenant: {rec.tenant_id!r} is not in the store"
                )
                continue
            runtime.metrics.records.labels(outcome="ok").inc()

    return handle_records


async def dead_letter(topics: Topics, event: faust.types.EventT, reason: str) -> None:
    """Send the record of ``event`` to ``deadletter`` with ``reason``."""
    message = event.message
    letter = DeadLetter.of(message.topic, event.value, reason, message.partition, message.offset)
    key, value = DEADLETTER_SPEC.encode(letter)
    await topics.deadletter.send(key=key, value=value)


def flush_timer(app: faust.App, cfg: ActionsSettings, slot: RuntimeSlot) -> None:
    """Every ``flush_interval_s``: reconcile, retry due emails, send digests out of cooldown."""

    @app.timer(interval=cfg.flush_interval_s)
    async def tick() -> None:
        if slot.runtime is not None:
            await asyncio.to_thread(slot.runtime.tick)


def schedule_timer(app: faust.App, slot: RuntimeSlot) -> None:
    """Every ``TICK_S``: the off-hours scheduler (:mod:`actions.schedules.scheduler`) on the
    wall clock, through the runtime's stop executor."""

    @app.timer(interval=TICK_S)
    async def schedules() -> None:
        runtime = slot.runtime
        if runtime is not None:
            scheduler = Scheduler(runtime.store.sessions, runtime.executor, runtime.executor.clock)
            await asyncio.to_thread(scheduler.tick)


def runtime_service(
    app: faust.App, settings: Settings, registry: CollectorRegistry, slot: RuntimeSlot
) -> None:
    """At start: build the runtime, reconcile left-behind emails, serve metrics, open ``slot``."""
    cfg = settings.actions

    @app.service
    class Runtime(mode.Service):
        """Builds the runtime and the metrics server when the worker starts."""

        async def on_start(self) -> None:
            slot.runtime = await asyncio.to_thread(build_runtime, settings, registry)
            await asyncio.to_thread(slot.runtime.alerts.reconcile)
            if cfg.metrics_port:
                serve_metrics(registry, cfg.metrics_port)
            slot.ready.set()
            log.info("actions worker ready (metrics on port %s)", cfg.metrics_port)

        async def on_stop(self) -> None:
            if slot.runtime is not None:
                slot.runtime.close()


worker = create_app(settings_or_exit("actions worker"))
app = worker.app
