"""The detector's agent: batches of ``metrics`` records to the model service, detections out.

One agent, concurrency 1 (faust issue 606: with more, offsets can be committed past records
not yet processed). It takes up to ``batch_size`` records or what arrived within
``batch_latency_ms`` (``noack_take``: Faust's ``take`` and ``take_events`` acknowledge a batch
even when the body is cancelled), hands them to :class:`~detector.detect.BatchDetector`, sends
the detections and dead letters, waits until the broker has them (and the table's changelog
records), and only then acknowledges the batch's events. While the model service is down the
batch waits inside the client's retry loop, so no offset moves past it, and a worker stopped
meanwhile leaves the batch to be consumed again.
"""

from __future__ import annotations

import logging
from typing import cast

import faust
from faust import Stream
from faust.types import EventT, StreamT

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
        batches = cast(Stream, stream).noack_take(
            settings.batch_size, within=settings.batch_latency_ms / 1000
        )
        async for taken in batches:
            events = cast(list[EventT], taken)
            batch = [
                Incoming(event.value, event.message.partition, event.message.offset)
                for event in events
            ]
            outcome = await detector.process(batch, channels.states)
            await publish(channels, outcome)
            channels.states.update(outcome.states)
            await channels.deliver()
            # acknowledged only now, once detections, dead letters and state are stored: a
            # batch cut short (service down at shutdown, a crash) is consumed again on restart
            for event in events:
                await stream.ack(event)
            for event in events:
                metrics.processed[event.message.tp] = event.message.offset

    return detect
