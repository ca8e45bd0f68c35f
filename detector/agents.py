"""The detector's agent: batches of ``metrics`` records to the model service, detections out.

One agent, concurrency 1 (faust issue 606: with more, offsets can be committed past records
not yet processed). It takes up to ``batch_size`` records or what arrived within
``batch_latency_ms`` with ``noack_take`` (Faust's ``take`` and ``take_events`` acknowledge a
batch even when the body is cancelled), hands them to :class:`~detector.detect.BatchDetector`,
sends the detections, anomalies and dead letters and stores the new states.

Two batches overlap (:class:`BatchPipeline`, its stages named): while the model service
scores one, the worker sends what the one before it produced (and Faust reads on). A batch
is prepared from the states the batch before it left in the table's store; a scored batch
whose successor has not arrived is sent at once. A batch's events are acknowledged only
once the broker has all of that (:meth:`Output.deliver`); that wait runs in a third task
(at most ``IN_FLIGHT`` batches wait). While the model service is down the batch waits
inside the client's retry loop, so no offset moves past it, and a worker stopped meanwhile
leaves the batch to be consumed again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import cast

import faust
from faust import Stream
from faust.types import EventT, StreamT

from detector.detect import BatchDetector, BatchOutcome, Incoming, Prepared
from detector.metrics import WorkerMetrics
from detector.output import Output
from detector.reference import ReferenceView
from detector.tables import DetectorChannels
from spendsense.settings import DetectorSettings

log = logging.getLogger(__name__)

IN_FLIGHT = 2


async def publish(output: Output, outcome: BatchOutcome) -> None:
    """Send a batch's detections and anomaly incidents (key: instance) and dead letters (key:
    source topic), wait until the broker has them, and only then log the states that say they
    were made (an incident's state included: a batch cut short before its states are logged
    opens or closes its incidents again, with the same incident id).

    A state on the changelog is what a restarted worker believes it has scored: records at
    or before its last period are taken for redeliveries and skipped. Were the states logged
    before the detections were acknowledged, a worker killed in between would come back
    believing in detections the broker never got, and those periods would never be scored.
    This order can at worst score a period twice (the consumers are idempotent).
    """
    await output.detections(outcome.detections)
    await output.anomalies(outcome.anomalies)
    await output.dead_letters(outcome.dead_letters)
    await output.deliver()
    await output.log_states(outcome.states)


@dataclass
class BatchPipeline:
    """The agent's body: batches move through named stages, two batches overlapping.

    ``take`` the next batch from the stream (a task, so Faust reads on meanwhile);
    ``prepare`` it from the states the batch before it left; ``score`` it on the model
    service; ``send`` the batch before it meanwhile (detections, anomalies and dead letters,
    then, once the broker has them, the changelog);
    ``acknowledge`` a sent batch's events once the broker has all of it (its own task,
    at most ``IN_FLIGHT`` batches waiting). A scored batch whose successor has not arrived
    is sent at once.
    """

    stream: StreamT
    channels: DetectorChannels
    output: Output
    detector: BatchDetector
    metrics: WorkerMetrics
    settings: DetectorSettings
    acker: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.batches = aiter(
            cast(Stream, self.stream).noack_take(
                self.settings.batch_size, within=self.settings.batch_latency_ms / 1000
            )
        )
        self.delivered: asyncio.Queue[list[EventT]] = asyncio.Queue(maxsize=IN_FLIGHT)

    async def run(self) -> None:
        """Take, prepare, score and send batches until cancelled."""
        self.acker = asyncio.create_task(self.acknowledge(), name="detector-acknowledge")
        upcoming = asyncio.ensure_future(self.take())
        call: asyncio.Future[BatchOutcome] | None = None
        scored: tuple[list[EventT], BatchOutcome] | None = None
        try:
            while True:
                if scored is not None and not upcoming.done():
                    await self.send(*scored)  # nothing else waiting: out at once
                    scored = None
                    continue
                events = await upcoming
                upcoming = asyncio.ensure_future(self.take())
                call = asyncio.ensure_future(self.score(await self.prepare(events)))
                if scored is not None:
                    await self.send(*scored)  # while the model service scores the next batch
                outcome = await call
                self.output.keep_states(outcome.states)  # what the next batch is prepared from
                scored = (events, outcome)
        finally:
            for task in (upcoming, call, self.acker):
                if task is not None:
                    task.cancel()

    async def take(self) -> list[EventT]:
        """The next batch: up to ``batch_size`` events, or what came within the latency."""
        return cast(list[EventT], await anext(self.batches))

    async def prepare(self, events: list[EventT]) -> Prepared:
        """Parse the batch and join it with the instances' states in the table's store."""
        batch = [
            Incoming(event.value, event.message.partition, event.message.offset) for event in events
        ]
        return await self.detector.prepare(batch, self.channels.states)

    async def score(self, prepared: Prepared) -> BatchOutcome:
        """Score a prepared batch on the model service (retrying while it is down)."""
        return await self.detector.score(prepared)

    async def send(self, events: list[EventT], outcome: BatchOutcome) -> None:
        """Send a scored batch's records, then queue its events for acknowledgement."""
        await publish(self.output, outcome)
        if self.acker is not None and self.acker.done():
            self.acker.result()  # delivery failed: stop here, nothing after it is acknowledged
        await self.delivered.put(events)

    async def acknowledge(self) -> None:
        """Acknowledge each sent batch's events once the broker has all of it."""
        while True:
            events = await self.delivered.get()
            await self.output.deliver()
            for event in events:
                await self.stream.ack(event)
                self.metrics.processed[event.message.tp] = event.message.offset


def register_agents(
    app: faust.App,
    channels: DetectorChannels,
    output: Output,
    detector: BatchDetector,
    view: ReferenceView,
    metrics: WorkerMetrics,
    settings: DetectorSettings,
) -> faust.types.AgentT:
    """Declare the ``detect`` agent on ``app``."""

    @app.agent(channels.metrics, name="detect", concurrency=1)
    async def detect(stream: StreamT) -> None:
        await view.ready.wait()
        await BatchPipeline(stream, channels, output, detector, metrics, settings).run()

    return detect
