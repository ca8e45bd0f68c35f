"""The detector's agent: batches of ``metrics`` records to the model service, detections out.

One agent, concurrency 1 (faust issue 606: with more, offsets can be committed past records
not yet processed). It takes up to ``batch_size`` records or what arrived within
``batch_latency_ms`` with ``noack_take`` (Faust's ``take`` and ``take_events`` acknowledge a
batch even when the body is cancelled), hands them to :class:`~detector.detect.BatchDetector`,
sends the detections and dead letters and stores the new states.

Two batches overlap: while the model service scores one, the worker sends what the one
before it produced (and Faust reads on). A batch is prepared from the states the batch before
it left in the table's store; a scored batch whose successor has not arrived is sent at once.
A batch's events are acknowledged only once the broker has all of that
(:meth:`Output.deliver`); that wait runs in a third task (at most ``IN_FLIGHT`` batches
wait). While the model service is down the batch waits inside the client's retry loop, so no
offset moves past it, and a worker stopped meanwhile leaves the batch to be consumed again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import faust
from faust import Stream
from faust.types import EventT, StreamT

from detector.context import ContextView
from detector.detect import BatchDetector, BatchOutcome, Incoming
from detector.output import Output
from detector.tables import DetectorChannels
from detector.worker_metrics import WorkerMetrics
from spendsense.settings import DetectorSettings
from spendsense.topics import METRICS

log = logging.getLogger(__name__)

IN_FLIGHT = 2


async def publish(output: Output, outcome: BatchOutcome) -> None:
    """Send a batch's detections (key: instance) and dead letters (key: source topic)."""
    await output.detections([(d.instance_id, d.to_bytes()) for d in outcome.detections])
    await output.dead_letters([(METRICS, d.to_bytes()) for d in outcome.dead_letters])


def register_agents(
    app: faust.App,
    channels: DetectorChannels,
    output: Output,
    detector: BatchDetector,
    view: ContextView,
    metrics: WorkerMetrics,
    settings: DetectorSettings,
) -> faust.types.AgentT:
    """Declare the ``detect`` agent on ``app``."""

    @app.agent(channels.metrics, name="detect", concurrency=1)
    async def detect(stream: StreamT) -> None:
        await view.ready.wait()
        delivered: asyncio.Queue[list[EventT]] = asyncio.Queue(maxsize=IN_FLIGHT)

        async def acknowledge() -> None:
            while True:
                events = await delivered.get()
                await output.deliver()
                for event in events:
                    await stream.ack(event)
                    metrics.processed[event.message.tp] = event.message.offset

        async def flush(events: list[EventT], outcome: BatchOutcome) -> None:
            await publish(output, outcome)
            await output.log_states(outcome.states)
            if acker.done():  # delivery failed: stop here, nothing after it is acknowledged
                acker.result()
            await delivered.put(events)

        acker = asyncio.create_task(acknowledge(), name="detector-acknowledge")
        batches = aiter(
            cast(Stream, stream).noack_take(
                settings.batch_size, within=settings.batch_latency_ms / 1000
            )
        )

        async def next_batch() -> list[EventT]:
            return cast(list[EventT], await anext(batches))

        upcoming = asyncio.ensure_future(next_batch())
        call: asyncio.Future[BatchOutcome] | None = None
        scored: tuple[list[EventT], BatchOutcome] | None = None
        try:
            while True:
                if scored is not None and not upcoming.done():
                    await flush(*scored)  # nothing else waiting: out at once
                    scored = None
                    continue
                events = await upcoming
                upcoming = asyncio.ensure_future(next_batch())
                batch = [
                    Incoming(event.value, event.message.partition, event.message.offset)
                    for event in events
                ]
                call = asyncio.ensure_future(
                    detector.score(await detector.prepare(batch, channels.states))
                )
                if scored is not None:
                    await flush(*scored)  # while the model service scores the next batch
                outcome = await call
                output.keep_states(outcome.states)  # what the next batch is prepared from
                scored = (events, outcome)
        finally:
            for task in (upcoming, call, acker):
                if task is not None:
                    task.cancel()

    return detect
