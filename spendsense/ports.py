"""Free TCP ports on 127.0.0.1, for the processes tests, benchmarks and the chaos run start.

>>> a, b = free_ports(2)
>>> a != b and 0 < a < 65536
True
"""

from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nothing listens on right now (all held while chosen)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """One TCP port nothing listens on right now."""
    return free_ports(1)[0]
