"""How far an account's backfill is, as one machine-readable log line per batch.

When a cycle has more than a day of history to fetch for an account (its first cycles
after onboarding, or after a long outage), the ``cloudwatch`` collector logs a
:class:`BackfillProgress` after each batch it commits: :data:`MARKER`, then the record as
JSON. ``spendsense demo`` reads these lines from the collector's output to show each
account's progress with an ETA (:mod:`devstack.milestones`); in the collector's log they
read as they are.

>>> p = BackfillProgress(tenant_id="acme", account_id="111111111111", periods_done=96,
...                      periods_total=384, elapsed_s=3.0)
>>> line = f"2026-12-06 13:40:00,123 INFO ingest.progress: {p.log_line()}"
>>> BackfillProgress.find(line) == p
True
>>> BackfillProgress.find("2026-12-06 13:40:00,123 INFO ingest.runner: cycle done") is None
True
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

MARKER = "backfill-progress "


class BackfillProgress(BaseModel):
    """One account's backfill so far: instance-periods fetched and committed of those due,
    and the seconds since it began."""

    tenant_id: str
    account_id: str
    periods_done: int
    periods_total: int
    elapsed_s: float

    def log_line(self) -> str:
        """The line the collector logs: the marker, then the record as JSON."""
        return MARKER + self.model_dump_json()

    @classmethod
    def find(cls, line: str) -> BackfillProgress | None:
        """The record in one line of the collector's output, or ``None`` if it holds none."""
        at = line.find(MARKER)
        if at < 0:
            return None
        try:
            return cls.model_validate_json(line[at + len(MARKER) :])
        except ValidationError:
            return None


@dataclass
class Backfill:
    """One account's backfill in one cycle: counts the periods done, logs progress."""

    tenant_id: str
    account_id: str
    periods_total: int
    periods_done: int = 0
    started: float = field(default_factory=time.monotonic)

    def advance(self, periods: int) -> None:
        """``periods`` more are committed: log where the backfill is."""
        self.periods_done += periods
        progress = BackfillProgress(
            tenant_id=self.tenant_id,
            account_id=self.account_id,
            periods_done=self.periods_done,
            periods_total=self.periods_total,
            elapsed_s=round(time.monotonic() - self.started, 1),
        )
        log.info("%s", progress.log_line())
