"""The detector worker's one Faust app: ``faust -L uvloop -A detector.app worker -l info``.

Faust finds the module attribute ``app``, built from :func:`spendsense.settings.settings_or_exit`
(the process edge). :func:`create_app` builds the same thing from any settings, which is how
tests and the pipeline benchmark get an app with their own topic prefix. The app id carries
the prefix, so the state table's changelog topic is isolated too.

On start the worker reads ``inventory`` and ``feedback`` in full (:mod:`detector.reference`),
restores the state table (RocksDB on disk by default: only the changelog's tail past what it
holds), serves Prometheus metrics on ``detector.metrics_port`` (9302) and Faust's web server
on ``detector.web_port`` (6066), then scores ``metrics`` in batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
import mode

from detector.agents import register_agents
from detector.client import ModelClient
from detector.detect import BatchDetector
from detector.metrics import WorkerMetrics
from detector.output import ChannelOutput, KafkaOutput, Output
from detector.reference import ReferenceReader, ReferenceView
from detector.tables import DetectorChannels, declare_channels
from spendsense.faust_worker import Worker
from spendsense.kafka_clients import WORKER_METADATA_MAX_AGE_MS, faust_config
from spendsense.metrics import CollectorRegistry, serve_metrics
from spendsense.settings import Settings, settings_or_exit
from spendsense.topics import DEADLETTER, DETECTIONS, METRICS, topic_name


@dataclass(frozen=True)
class DetectorWorker:
    """The app and the parts its agent uses (tests reach them through this)."""

    app: faust.App
    channels: DetectorChannels
    output: Output
    view: ReferenceView
    metrics: WorkerMetrics
    detector: BatchDetector
    agent: faust.types.AgentT


def faust_app(settings: Settings, app_id: str) -> faust.App:
    """The detector's Faust app settings (broker, store, consumer and producer tuning).

    The data directory (RocksDB's files) is the worker's own: ``<var_dir>/faust/<app
    id>-<web port>``, as two workers on one host differ by their web port, and a restart with
    the same settings finds its files again.
    """
    kafka, det = settings.kafka, settings.detector
    datadir = settings.var_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    return faust.App(
        app_id,
        **faust_config(kafka),
        consumer_metadata_max_age_ms=WORKER_METADATA_MAX_AGE_MS,
        store=f"{det.store}://",
        table_standby_replicas=det.standby_replicas,
        datadir=str(datadir / f"{app_id}-{det.web_port}"),
        topic_partitions=kafka.metrics_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # on stop, do not wait for a batch stuck on an unavailable model service: it is not
        # acknowledged, so it is consumed again on restart
        stream_wait_empty=False,
        producer_acks=-1,
        broker_session_timeout=det.session_timeout_s,
        broker_heartbeat_interval=det.session_timeout_s / 5,
        # a batch's detections and changelog records leave in a few produce requests
        producer_linger=0.02,
        web_enabled=det.web_enabled,
        web_port=det.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        stream_buffer_maxsize=max(4096, 2 * det.batch_size),
        Worker=Worker,  # its log handlers redact secrets
    )


def create_app(
    settings: Settings, registry: CollectorRegistry | None = None, memory_outputs: bool = False
) -> DetectorWorker:
    """Build the detector's Faust app from ``settings`` (nothing connects until it starts).

    ``memory_outputs``: detections and dead letters go to in-memory channels
    (:class:`~detector.output.ChannelOutput`), for agent tests under ``test_context``.
    """
    kafka, det = settings.kafka, settings.detector
    app = faust_app(settings, f"{kafka.topic_prefix}{det.app_id}")
    reg = registry or CollectorRegistry()
    metrics = WorkerMetrics(reg)
    view = ReferenceView()
    reader = ReferenceReader(
        kafka,
        view,
        on_poison=lambda topic, record, exc: metrics.errors.labels(kind="bad_context").inc(),
    )
    client = ModelClient(det, on_retry=lambda kind: metrics.errors.labels(kind=kind).inc())
    detector = BatchDetector(
        client,
        view,
        metrics,
        source_topic=topic_name(kafka, METRICS),
        max_future_skew_s=det.max_future_skew_s,
        catch_up=reader.catch_up,
        live_edge_s=det.live_edge_s,
    )
    channels = declare_channels(app, kafka)

    output: Output = (
        ChannelOutput(app, channels.states)
        if memory_outputs
        else KafkaOutput(
            kafka,
            topic_name(kafka, DETECTIONS),
            topic_name(kafka, DEADLETTER),
            channels.states,
        )
    )
    agent = register_agents(app, channels, output, detector, view, metrics, det)

    @app.service
    class Context(mode.Service):
        """Starts the inventory/feedback reader and the metrics server with the worker."""

        async def on_start(self) -> None:
            if det.metrics_port:
                serve_metrics(reg, det.metrics_port)
            if isinstance(output, KafkaOutput):
                await output.start()
            await reader.start()
            metrics.ready.set(1)

        @mode.Service.timer(5.0)
        async def _lag(self) -> None:
            assigned = app.consumer.assignment()
            for tp in [tp for tp in metrics.processed if tp not in assigned]:
                del metrics.processed[tp]  # moved to another worker
            metrics.update_lag(app.consumer.highwater)

        async def on_stop(self) -> None:
            await reader.stop()
            await client.aclose()
            if isinstance(output, KafkaOutput):
                await output.stop()

    return DetectorWorker(app, channels, output, view, metrics, detector, agent)


worker = create_app(settings_or_exit("detector worker"))
app = worker.app
