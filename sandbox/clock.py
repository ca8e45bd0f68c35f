"""The sandbox's clock: wall time, optionally sped up, and advanceable by tests.

``now = start + (wall - start) * speed + advanced``. With ``speed=1`` and nothing
advanced it is the wall clock; a demo may run at 60 (a sandbox minute per second);
a test may :meth:`SandboxClock.advance` it to make live points appear at once.

>>> wall = iter([1000.0, 1010.0, 1010.0])
>>> clock = SandboxClock(speed=60, wall=lambda: next(wall))
>>> clock.start
1000.0
>>> clock.now()
1600.0
>>> clock.advance(900)
>>> clock.now()
2500.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SandboxClock:
    """Epoch seconds as the sandbox sees them."""

    def __init__(self, speed: float = 1.0, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.speed = speed
        self.start = wall()
        self._advanced = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """The sandbox's current time (epoch seconds)."""
        with self._lock:
            return self.start + (self._wall() - self.start) * self.speed + self._advanced

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never backward)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._advanced += seconds

    def state(self) -> dict[str, float]:
        """What ``GET /_sandbox/clock`` shows."""
        return {"start": self.start, "now": self.now(), "speed": self.speed}
