"""The one readiness probe: a process is ready when its HTTP endpoint answers 2xx (with
a given text in it, if asked), its
TCP port accepts connections, or another check passes (the broker answers a metadata
request); and the one
wait for it, which gives up early when the process exits.

>>> Readiness(tcp=("127.0.0.1", 1))()
False
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from devstack import broker
from spendsense.errors import ServiceError


@dataclass(frozen=True)
class Readiness:
    """How to tell a process is ready (exactly one of ``url``, ``tcp``, ``check``), and how
    long to wait for it."""

    url: str | None = None
    contains: str | None = None
    """With ``url``: ready only once the answer holds this text (a metric at 1, say)."""
    tcp: tuple[str, int] | None = None
    check: Callable[[], bool] | None = None
    timeout_s: float = 90.0

    def __call__(self) -> bool:
        if self.url is not None:
            try:
                with urllib.request.urlopen(self.url, timeout=1.0) as resp:  # noqa: S310 (local)
                    ok = 200 <= resp.status < 300
                    return ok and (self.contains is None or self.contains in resp.read().decode())
            except (urllib.error.URLError, OSError, ValueError):
                return False
        if self.tcp is not None:
            return broker.port_open(*self.tcp)
        if self.check is not None:
            return self.check()
        raise ValueError("a Readiness needs a url, a tcp address or a check")


def wait_ready(
    name: str,
    probe: Callable[[], bool],
    timeout_s: float,
    alive: Callable[[], bool],
    last_output: Callable[[], str],
) -> None:
    """Wait until ``probe`` answers; raise with the process's last output when it exits
    first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise ServiceError(f"{name} exited during start; its last output:\n{last_output()}")
        if probe():
            return
        time.sleep(0.3)
    raise ServiceError(
        f"{name} was not ready within {timeout_s:.0f} s; its last output:\n{last_output()}"
    )
