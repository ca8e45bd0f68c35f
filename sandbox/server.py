"""Run the sandbox: moto's server application behind :class:`~sandbox.app.SandboxApp`, seeded.

:class:`SandboxServer` binds the port first (a taken port fails at once with one line),
answers ``GET /_sandbox/health`` with 503 while it seeds the fleet into moto and 200
once ready, and serves in a thread until :meth:`SandboxServer.stop`.
"""

from __future__ import annotations

import logging
import socket
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.app import SandboxApp, SandboxState
from sandbox.clock import SandboxClock
from sandbox.fleet import Fleet
from sandbox.ports import listen
from sandbox.resource_seed import seed_resources
from sandbox.seed import seed
from sandbox.timeline import Timeline
from spendsense.settings import SandboxSettings

log = logging.getLogger(__name__)


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s", self.requestline, code)


class SandboxServer:
    """The sandbox AWS account for ``fleet``, served on ``settings.host``:``port``;
    ``service_role`` is the role SpendSense runs as in its account (``AwsSettings``)."""

    def __init__(self, settings: SandboxSettings, fleet: Fleet, service_role: str) -> None:
        self.settings = settings
        self.service_role = service_role
        clock = SandboxClock(speed=settings.speed)
        timeline = Timeline(fleet, clock, settings.history_days)
        self.state = SandboxState(timeline, settings.vendor_account_id, [])
        self.app = SandboxApp(DomainDispatcherApplication(create_backend_app), self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return self.state.endpoint

    def start(self, listener: socket.socket | None = None) -> str:
        """Serve (on ``listener`` if given, else bind), seed; returns the endpoint once ready."""
        host, port = self.settings.host, self.settings.port
        listener = listener or listen(host, port)
        self._server = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietHandler, fd=listener.fileno()
        )
        listener.close()  # the server holds its own duplicate of the descriptor
        bound_port = self._server.server_address[1]
        self.state.endpoint = f"http://{host}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox", daemon=True
        )
        self._thread.start()
        self.state.tenants = seed(
            self.state.timeline,
            self.settings.vendor_account_id,
            self.service_role,
            self.settings.sender,
            self.settings.seed,
        )
        self.state.events = seed_resources(self.state.timeline)
        self.state.ready = True
        return self.state.endpoint

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
