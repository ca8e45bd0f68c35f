"""Changes to seeded resources that come later in sandbox time (a volume detached, an
address freed), applied in time order once the sandbox clock reaches them.

>>> done = []
>>> events = ResourceEvents()
>>> events.add(200.0, lambda: done.append("b"))
>>> events.add(100.0, lambda: done.append("a"))
>>> events.apply_due(150.0), done
(1, ['a'])
>>> events.apply_due(250.0), done, len(events)
(1, ['a', 'b'], 0)
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable


class ResourceEvents:
    """Pending changes, each a callable at a sandbox epoch time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, at: float, change: Callable[[], object]) -> None:
        """Apply ``change`` once sandbox time reaches ``at``."""
        with self._lock:
            heapq.heappush(self._heap, (at, next(self._order), change))

    def apply_due(self, now: float) -> int:
        """Apply every change due by ``now``, oldest first; returns how many."""
        applied = 0
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, _, change = heapq.heappop(self._heap)
                change()
                applied += 1
        return applied
