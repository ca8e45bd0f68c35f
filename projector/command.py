"""``spendsense project``: the projector feeding the API's ``instances`` and ``anomalies``
tables from Kafka."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from projector.projection import Projector, ProjectorMetrics, make_consumer
from spendsense.counters import projection_changes
from spendsense.logs import setup_logging
from spendsense.metrics import CollectorRegistry, serve_metrics
from spendsense.producer import make_producer
from spendsense.settings import get_settings
from spendsense.store import open_store

log = logging.getLogger("spendsense.projector")


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    setup_logging(settings.log_level)
    port = (
        args.metrics_port if args.metrics_port is not None else settings.api.projector_metrics_port
    )
    store = open_store(settings.store)
    registry = CollectorRegistry()
    metrics = ProjectorMetrics.create(registry)
    if port:
        serve_metrics(registry, port)
    producer = make_producer(settings.kafka, client_id="spendsense-projector")
    projector = Projector(
        store.sessions,
        settings.kafka,
        metrics,
        dead_letter=producer,
        changes=projection_changes(settings.var_dir),
    )
    consumer = make_consumer(settings.kafka, settings.api, projector.topics)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("projector: signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "projector: consuming %s as group %s; metrics on :%s",
        ", ".join(projector.topics),
        settings.api.projector_group_id,
        port,
    )
    try:
        projector.run(consumer, stop)
    finally:
        consumer.close()
        producer.close(timeout=10)
        store.dispose()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "project",
        help="fold inventory, detections, actions and anomalies into the API's tables",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="Prometheus port (default: settings, 9304; 0: off)",
    )
    p.set_defaults(func=_run)
