"""The model service's own state on disk: written atomically, read back at start.

The service keeps no per-instance state (that travels with the stream); what it keeps is
fleet-wide: how many records, series and batches it scored, how many instances it saw first,
how many idle verdicts it gave. :class:`ServiceState` holds it and :class:`Checkpointer` saves
it every ``interval_s`` and on shutdown, so a restart loses at most one interval.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "svc.json"
>>> cp = Checkpointer(path, interval_s=60)
>>> state = cp.load()
>>> state.records_scored
0
>>> state.add_batch(records=3, series=2, new_instances=1, idle=1)
>>> cp.save(state)
>>> Checkpointer(path, interval_s=60).load() == state
True
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from spendsense.errors import ConfigError


class ServiceState(BaseModel):
    """Fleet-wide counters of the model service (what its checkpoint holds)."""

    records_scored: int = 0
    series_scored: int = 0
    batches: int = 0
    new_instances: int = 0
    idle_verdicts: int = 0
    saved_at: float | None = None

    def add_batch(self, records: int, series: int, new_instances: int, idle: int) -> None:
        """Count one scored batch."""
        self.records_scored += records
        self.series_scored += series
        self.batches += 1
        self.new_instances += new_instances
        self.idle_verdicts += idle


class Checkpointer:
    """Saves a :class:`ServiceState` to one JSON file (write to a temp file, then rename)."""

    def __init__(self, path: Path, interval_s: float) -> None:
        self.path = path
        self.interval_s = interval_s
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def load(self) -> ServiceState:
        """The last saved state, or a fresh one when there is none yet."""
        if not self.path.exists():
            return ServiceState()
        try:
            return ServiceState.model_validate_json(self.path.read_text())
        except (ValidationError, ValueError) as exc:
            raise ConfigError(
                f"model service checkpoint {self.path} is unreadable ({exc.__class__.__name__}); "
                "move it away to start from zero"
            ) from None

    def save(self, state: ServiceState) -> None:
        """Write ``state`` atomically."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            state.saved_at = time.time()
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state.model_dump()))
            os.replace(tmp, self.path)
            self._last = time.monotonic()

    def maybe_save(self, state: ServiceState) -> bool:
        """Save when ``interval_s`` has passed since the last save; True when it saved."""
        if time.monotonic() - self._last < self.interval_s:
            return False
        self.save(state)
        return True
