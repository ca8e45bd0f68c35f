"""The detector's agent: batches of ``metrics`` records to the model service, detections out.

One agent, concurrency 1 (faust issue 606: with more, offsets can be committed past records
not yet processed). It takes up to ``batch_size`` records or what arrived within
``batch_latency_ms`` (``take_events``), hands them to :class:`~detector.detect.BatchDetector`,
sends the detections and dead letters, and waits until the broker has them (and the table's
changelog records) before the batch's offsets are acknowledged. While the model service is down
the batch waits inside the client's retry loop, so no offset moves past it.
"""

from __future__ import annotations

import logging
from typing import cast

import faust
from faust import Stream
from faust.types import TP, EventT, StreamT

from detector.context import ContextView
from detector.detect import BatchDetector, BatchOutcome, Incoming
from detector.tables import DetectorChannels
from detector.worker_metrics import WorkerMetrics
from spendsense.settings import DetectorSettings
from spendsense.topics import METRICS

log = logging.getLogger(__name__)


async def publish(channels: DetectorChannels, outcome: BatchOutcome) -> None:
    """Send a batch's detections (key: instance) and dead letters (key: source topic)."""
    for detection in outcome.detections:
        await channels.detections.send(key=detection.instance_id, value=detection.to_bytes())
    for letter in outcome.dead_letters:
        await channels.deadletter.send(key=METRICS, value=letter.to_bytes())


def record_lag(app: faust.App, metrics: WorkerMetrics, events: list[EventT]) -> None:
    """Set the lag gauge from the last offset of each partition seen in this batch."""
    last: dict[TP, int] = {}
    for event in events:
        last[event.message.tp] = event.message.offset
    for tp, offset in last.items():
        highwater = app.consumer.highwater(tp)
        if highwater is not None:
            metrics.lag.labels(partition=str(tp.partition)).set(max(highwater - offset - 1, 0))


def register_agents(
    app: faust.App,
    channels: DetectorChannels,
    detector: BatchDetector,
    view: ContextView,
    metrics: WorkerMetrics,
    settings: DetectorSettings,
) -> faust.types.AgentT:
    """Declare the ``detect`` agent on ``app``."""

    @app.agent(channels.metrics, name="detect", concurrency=1)
    async def detect(stream: StreamT) -> None:
        await view.ready.wait()
        async for events in cast(Stream, stream).take_events(
            settings.batch_size, within=settings.batch_latency_ms / 1000
        ):
            batch = [
                Incoming(event.value, event.message.partition, event.message.offset)
                for event in events
            ]
            outcome = await detector.process(batch, channels.states)
            await publish(channels, outcome)
            # the batch's offsets are acknowledged after this body: deliver everything first
            await channels.deliver()
            record_lag(app, metrics, list(events))

    return detect
