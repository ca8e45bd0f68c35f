"""``spendsense collect [--once]``: the collectors for the connected accounts.

Running, the process is one of the ``collectors`` group and collects the accounts of its
partitions of ``accounts`` (:mod:`ingest.assignment`): start more processes, on any host, and
they share the accounts; stop or lose one and the others take its accounts over. ``--once``
collects every account once, outside the group.

Metrics are served at ``http://127.0.0.1:<ingest.metrics_port>/metrics`` (9301 by
default; 0 turns them off). SIGTERM or Ctrl-C stops after the batch in flight, with
everything published so far flushed and checkpointed.
"""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from ingest.assignment import AccountAssignment
from ingest.runner import AccountResult, CollectorService
from spendsense.metrics import CollectorRegistry, serve_metrics
from spendsense.producer import make_producer
from spendsense.settings import get_settings
from spendsense.store.engine import make_engine, session_factory
from spendsense.store.migrate import ensure_schema

log = logging.getLogger("spendsense.collect")


def _print(results: list[AccountResult]) -> None:
    for result in results:
        print(result.line(), flush=True)


def _collect(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.store)
    ensure_schema(engine)
    registry = CollectorRegistry()
    if settings.ingest.metrics_port:
        serve_metrics(registry, settings.ingest.metrics_port)
        log.info("metrics at http://127.0.0.1:%d/metrics", settings.ingest.metrics_port)
    producer = make_producer(settings.kafka, client_id="spendsense-collector")
    assignment = (
        None if args.once else AccountAssignment(settings.kafka, client_id="spendsense-collector")
    )
    service = CollectorService(
        settings, session_factory(engine), producer, registry, assignment=assignment
    )

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the batch in flight", signum)
        service.shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if assignment is None:  # --once
            results = service.run_cycle()
            if not results:
                print("no AWS accounts connected yet", flush=True)
            _print(results)
            return 0
        assignment.start()
        log.info(
            "collector started: %s policy, every %.0f s",
            settings.ingest.policy,
            settings.ingest.cycle_s,
        )
        service.run_forever(on_cycle=_print)
        return 0
    finally:
        if assignment is not None:
            assignment.close()
        producer.close()
        engine.dispose()
        log.info("collector stopped")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "collect", help="collect inventory, metrics and costs of this process's share of accounts"
    )
    parser.add_argument(
        "--once", action="store_true", help="run one cycle of every account and exit (no group)"
    )
    parser.set_defaults(func=_collect)
