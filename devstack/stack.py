"""The local stack: every SpendSense process with its command line and readiness probe.

``spendsense demo`` starts them in this order under :class:`~devstack.supervisor.Supervisor`;
the chaos run and the metrics tests use the same table, so there is one description of
how the pipeline starts.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from devstack import broker
from devstack.supervisor import ProcessSpec
from spendsense.settings import Settings

BIN = Path(sys.executable).parent


def http_ok(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """A probe: True when ``url`` answers 2xx."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (local URL)
                return bool(200 <= resp.status < 300)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return probe


def tcp_open(host: str, port: int) -> Callable[[], bool]:
    """A probe: True when ``host:port`` accepts connections."""
    return lambda: broker.port_open(host, port)


def _cli(*args: str) -> list[str]:
    return [str(BIN / "spendsense"), *args]


def infrastructure(settings: Settings, fleet_dir: Path) -> list[ProcessSpec]:
    """The broker and the sandbox AWS account: what everything else needs first."""
    kafka = settings.kafka
    sandbox = settings.sandbox
    return [
        ProcessSpec(
            "kafka", _cli("kafka", "run"), ready=lambda: broker.broker_ready(kafka), tier=0
        ),
        ProcessSpec(
            "sandbox",
            _cli("sandbox", "--port", str(sandbox.port), "--fleet", str(fleet_dir)),
            ready=http_ok(f"{sandbox.url}/_sandbox/health"),
            ready_timeout_s=180.0,
            tier=0,
        ),
    ]


def pipeline(settings: Settings) -> list[ProcessSpec]:
    """The pipeline's own processes, in start order."""
    det = settings.detector
    return [
        ProcessSpec(
            "model",
            [
                str(BIN / "bentoml"),
                "serve",
                "detector.service:ModelService",
                "--host",
                "127.0.0.1",
                "--port",
                str(det.model_port),
            ],
            ready=http_ok(f"{det.model_url}/readyz"),
            ready_timeout_s=120.0,
        ),
        ProcessSpec(
            "detector",
            [
                str(BIN / "faust"),
                "-L",
                "uvloop",  # uvloop: about a sixth more records/s than asyncio's loop (bench-pipeline)
                "-A",
                "detector.app",
                "worker",
                "-l",
                "info",
                "--web-port",
                str(det.web_port),
            ],
            ready=tcp_open("127.0.0.1", det.metrics_port),
        ),
        ProcessSpec(
            "actions",
            [
                str(BIN / "faust"),
                "-A",
                "actions.app",
                "worker",
                "-l",
                "info",
                "--web-port",
                str(settings.actions.web_port),
            ],
            ready=tcp_open("127.0.0.1", settings.actions.metrics_port),
        ),
        ProcessSpec(
            "projector",
            _cli("project"),
            ready=tcp_open("127.0.0.1", settings.api.projector_metrics_port),
        ),
        ProcessSpec(
            "collector",
            _cli("collect"),
            ready=tcp_open("127.0.0.1", settings.ingest.metrics_port),
        ),
        ProcessSpec(
            "api",
            [
                str(BIN / "uvicorn"),
                "api.main:app",
                "--host",
                settings.api.host,
                "--port",
                str(settings.api.port),
                "--no-proxy-headers",  # the app reads X-Forwarded-For itself (api/clients.py)
            ],
            ready=http_ok(f"http://{settings.api.host}:{settings.api.port}/readyz"),
        ),
    ]
