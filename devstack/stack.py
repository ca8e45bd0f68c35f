"""The table of processes: every SpendSense process with its command line and readiness.

One description of how each process starts, used by everything that starts one:
``spendsense demo`` and the chaos run (under :class:`~devstack.supervisor.Supervisor`),
the benchmarks and the tests (through :class:`~devstack.launch.Child`), and checked
against docker-compose.yml's commands (``tests/deploy/test_compose.py``). The
commands are the ones a user runs; settings reach the processes as ``SPENDSENSE_*``
environment variables, and the table reads the same settings for ports and probes.

>>> from spendsense.settings import Settings
>>> command("detector", Settings())
['faust', '-L', 'uvloop', '-A', 'detector.app', 'worker', '-l', 'info', '--web-port', '6066']
>>> command("api", Settings(), host="0.0.0.0")[:5]
['uvicorn', 'api.main:app', '--host', '0.0.0.0', '--port']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from devstack import broker
from devstack.launch import ProcessSpec
from devstack.readiness import Readiness
from spendsense.settings import Settings
from spendsense.topics import (
    ACCOUNTS,
    ACTIONS,
    ANOMALIES,
    DEADLETTER,
    DETECTIONS,
    FEEDBACK,
    INVENTORY,
    METRICS,
    TENANT_SETTINGS,
    WASTE,
)

BIN = Path(sys.executable).parent

Command = Callable[[Settings, str], list[str]]


def _faust(app: str, web_port: int, *, uvloop: bool = False) -> list[str]:
    # uvloop: about a sixth more records/s than asyncio's loop for the detector (bench-pipeline)
    loop = ["-L", "uvloop"] if uvloop else []
    return ["faust", *loop, "-A", app, "worker", "-l", "info", "--web-port", str(web_port)]


COMMANDS: dict[str, Command] = {
    "kafka": lambda s, host: ["spendsense", "kafka", "run"],
    "sandbox": lambda s, host: ["spendsense", "sandbox", "--port", str(s.sandbox.port)],
    "model": lambda s, host: [
        "bentoml",
        "serve",
        "detector.service:ModelService",
        "--host",
        host,
        "--port",
        str(s.detector.model_port),
    ],
    "detector": lambda s, host: _faust("detector.app", s.detector.web_port, uvloop=True),
    "actions": lambda s, host: _faust("actions.app", s.actions.web_port),
    "projector": lambda s, host: ["spendsense", "project"],
    "collector": lambda s, host: ["spendsense", "collect"],
    "api": lambda s, host: [
        "uvicorn",
        "api.main:app",
        "--host",
        host,
        "--port",
        str(s.api.port),
        "--no-proxy-headers",  # the app reads X-Forwarded-For itself (api/clients.py)
    ],
}
"""Each process's command line (its program by name), for the given settings and the
address it listens on."""

FLOWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "collector": ((ACCOUNTS,), (INVENTORY, METRICS, WASTE)),
    "model": ((), ()),
    "detector": (
        (METRICS, INVENTORY, FEEDBACK, TENANT_SETTINGS),
        (DETECTIONS, ANOMALIES, DEADLETTER),
    ),
    "actions": ((DETECTIONS, ANOMALIES, WASTE), (ACTIONS, DEADLETTER)),
    "projector": ((INVENTORY, DETECTIONS, ACTIONS, ANOMALIES, WASTE), (DEADLETTER,)),
    "api": ((DETECTIONS, ACTIONS), (ACTIONS, FEEDBACK, TENANT_SETTINGS, ACCOUNTS)),
}
"""The topics each pipeline process reads and writes (the model service answers the
detector over HTTP and touches no topic)."""

WHAT_IT_DOES = {
    "collector": "polls each customer's account through their role",
    "model": "scores and learns, one model per instance (BentoML)",
    "detector": "batches metrics to the model, decides idle (Faust)",
    "actions": "alert digests by e-mail, stops by policy (Faust)",
    "projector": "folds the stream into the dashboard's table",
    "api": "dashboard, live feed, Stop / Not idle, settings",
}


def picture() -> str:
    """The processes and the topics between them, in the order a record travels.

    >>> print(picture().splitlines()[0])
    collector  polls each customer's account through their role
    """
    width = max(len(name) for name in FLOWS) + 2
    lines = []
    for name, (reads, writes) in FLOWS.items():
        lines.append(f"{name:<{width}}{WHAT_IT_DOES[name]}")
        if reads:
            lines.append(f"{'':<{width}}  reads  {', '.join(reads)}")
        if writes:
            lines.append(f"{'':<{width}}  writes {', '.join(writes)}")
    return "\n".join(lines)


INFRASTRUCTURE = ("kafka", "sandbox")
PIPELINE = ("model", "detector", "actions", "projector", "collector", "api")
"""The pipeline's own processes, in start order."""


def readiness(name: str, settings: Settings) -> Readiness:
    """How to tell ``name`` is ready, on this host."""
    local = "127.0.0.1"
    probes = {
        "kafka": Readiness(check=partial(broker.broker_ready, settings.kafka)),
        "sandbox": Readiness(url=f"{settings.sandbox.url}/_sandbox/health", timeout_s=180.0),
        "model": Readiness(
            url=f"http://{local}:{settings.detector.model_port}/readyz", timeout_s=120.0
        ),
        # ready once its partitions are assigned, not merely listening
        "detector": Readiness(
            url=f"http://{local}:{settings.detector.metrics_port}/metrics",
            contains="spendsense_detector_ready 1.0",
            timeout_s=120.0,
        ),
        "actions": Readiness(tcp=(local, settings.actions.metrics_port)),
        "projector": Readiness(tcp=(local, settings.api.projector_metrics_port)),
        "collector": Readiness(tcp=(local, settings.ingest.metrics_port)),
        "api": Readiness(url=f"http://{local}:{settings.api.port}/readyz"),
    }
    return probes[name]


def address(name: str, settings: Settings) -> str:
    """Where a person reaches ``name`` on this host: the dashboard, the model service and
    the sandbox's endpoints, the broker's bootstrap address, the workers' metrics.

    >>> address("api", Settings())
    'http://127.0.0.1:8000/'
    """
    local = "http://127.0.0.1"
    addresses = {
        "kafka": settings.kafka.bootstrap_servers,
        "sandbox": settings.sandbox.url,
        "model": f"{local}:{settings.detector.model_port}",
        "detector": f"{local}:{settings.detector.metrics_port}/metrics",
        "actions": f"{local}:{settings.actions.metrics_port}/metrics",
        "projector": f"{local}:{settings.api.projector_metrics_port}/metrics",
        "collector": f"{local}:{settings.ingest.metrics_port}/metrics",
        "api": f"{settings.api.public_url}/",
    }
    return addresses[name]


def command(name: str, settings: Settings, host: str = "127.0.0.1") -> list[str]:
    """``name``'s command line, its program by name (as docker-compose.yml writes it)."""
    return COMMANDS[name](settings, host)


def settings_for(env: Mapping[str, str], *, inherit: bool = True) -> Settings:
    """The settings a process started with ``env`` on top of this one's environment reads
    (``inherit=False``: ``env`` alone, no ``SPENDSENSE_*`` variable or .env file of ours)."""
    saved = dict(os.environ)
    if not inherit:
        for name in [n for n in os.environ if n.startswith("SPENDSENSE_")]:
            del os.environ[name]
    os.environ.update(env)
    try:
        return Settings() if inherit else Settings(_env_file=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def spec(
    name: str,
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> ProcessSpec:
    """``name`` as a process to start, with ``env`` on top of this environment: the program
    resolved in this environment's bin; ``settings`` default to what ``env`` gives."""
    settings = settings or settings_for(env or {})
    program, *args = command(name, settings, settings.api.host if name == "api" else "127.0.0.1")
    return ProcessSpec(
        name,
        [str(BIN / program), *args, *extra_args],
        ready=readiness(name, settings),
        env=dict(env or {}),
        tier=0 if name in INFRASTRUCTURE else 1,
        url=address(name, settings),
    )


def infrastructure(
    settings: Settings, fleet_dir: Path, env: Mapping[str, str] | None = None
) -> list[ProcessSpec]:
    """The broker and the sandbox AWS account: what everything else needs first."""
    return [
        spec("kafka", settings, env=env),
        spec("sandbox", settings, env=env, extra_args=("--fleet", str(fleet_dir))),
    ]


def pipeline(settings: Settings, env: Mapping[str, str] | None = None) -> list[ProcessSpec]:
    """The pipeline's own processes, in start order, with ``env`` over this environment."""
    return [spec(name, settings, env=env) for name in PIPELINE]
