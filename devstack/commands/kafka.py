"""``spendsense kafka start|stop|status|run|topics``: the local broker."""

from __future__ import annotations

import argparse

from devstack import broker
from spendsense import topic_admin
from spendsense.settings import get_settings


def _start(args: argparse.Namespace) -> int:
    settings = get_settings().kafka
    pid = broker.start(settings)
    created = topic_admin.create_topics(settings)
    print(
        f"kafka ready at {settings.bootstrap_servers} (pid {pid}); log: {settings.home}/broker.log"
    )
    if created:
        print("created topics: " + ", ".join(created))
    return 0


def _stop(args: argparse.Namespace) -> int:
    print("kafka stopped" if broker.stop(get_settings().kafka) else "kafka was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = get_settings().kafka
    pid = broker.running_pid(broker.BrokerPaths(settings.home))
    ready = broker.broker_ready(settings)
    owner = f"pid {pid}" if pid else "not started by this project"
    print(
        f"kafka at {settings.bootstrap_servers}: {'ready' if ready else 'not answering'} ({owner})"
    )
    return 0 if ready else 1


def _run(args: argparse.Namespace) -> int:
    broker.run_foreground(get_settings().kafka)
    return 0


def _topics(args: argparse.Namespace) -> int:
    settings = get_settings().kafka
    broker.wait_ready(settings, broker.BrokerPaths(settings.home), None)
    created = topic_admin.create_topics(settings)
    print("created topics: " + ", ".join(created) if created else "all topics exist")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kafka", help="run the local Kafka 3.9 broker (KRaft)")
    actions = parser.add_subparsers(dest="kafka_command", required=True, metavar="ACTION")
    for name, func, text in (
        ("start", _start, "start in the background, wait until ready, create topics"),
        ("stop", _stop, "stop the broker started by start"),
        ("status", _status, "say whether the broker answers"),
        ("run", _run, "run in the foreground (for a supervisor)"),
        ("topics", _topics, "wait for the broker and create the project's topics"),
    ):
        actions.add_parser(name, help=text).set_defaults(func=func)
