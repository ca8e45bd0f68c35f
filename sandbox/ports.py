"""Listening sockets for the sandbox, bound before anything heavy is imported or seeded.

>>> sock = listen("127.0.0.1", 0)
>>> try:
...     listen("127.0.0.1", sock.getsockname()[1])
... except ServiceError as exc:
...     print(str(exc).split(";")[0].endswith("is already taken"))
True
>>> sock.close()
"""

from __future__ import annotations

import errno
import socket

from spendsense.errors import ServiceError


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``; a taken port is one ServiceError line."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServiceError(
                f"port {port} on {host} is already taken; stop what uses it or pick another "
                "with --port (or SPENDSENSE_SANDBOX__PORT)"
            ) from None
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener
