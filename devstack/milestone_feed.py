"""Reads the milestones that live in the store rather than in the processes' output: the
first verdicts of the run in the dashboard's table, and the emails and stops in the audit
log (:mod:`devstack.milestones` says what each becomes).

:meth:`MilestoneFeed.mark` notes where the store stands before the pipeline starts (each
instance's last verdict, the audit log's last entry), so a demo run again on the same store
reports only its own news; :meth:`MilestoneFeed.start` then reads from there every second,
in a thread, until :meth:`MilestoneFeed.stop`. The table holds one row per instance, so the
first verdicts cost a small query a second until both are found, whatever the stream's pace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from devstack.milestones import FirstVerdicts, Milestone, from_audit
from spendsense.settings import Settings
from spendsense.store import Store, open_store
from spendsense.store.models import AuditEntry, InstanceView

log = logging.getLogger(__name__)

MILESTONE_ACTIONS = ("email", "stop")
"""The audit log's actions that are milestones."""


class MilestoneFeed:
    """Hands each first verdict, email and stop to ``emit``, looking every ``every_s``."""

    def __init__(
        self, settings: Settings, emit: Callable[[Milestone], None], every_s: float = 1.0
    ) -> None:
        self.settings = settings
        self.emit = emit
        self.every_s = every_s
        self.verdicts = FirstVerdicts()
        self._store: Store | None = None
        self._scored_before: dict[tuple[str, str], datetime | None] = {}
        self._audit_after = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="milestones", daemon=True)

    def mark(self) -> None:
        """Note each instance's last verdict and the audit log's last entry (the store is
        migrated)."""
        self._store = open_store(self.settings.store, migrate=False)
        with self._store.sessions() as db:
            self._audit_after = db.scalar(select(func.max(AuditEntry.id))) or 0
            rows = db.execute(
                select(InstanceView.tenant_id, InstanceView.instance_id, InstanceView.scored_at)
            )
            self._scored_before = {(tenant, iid): at for tenant, iid, at in rows}

    def start(self) -> None:
        """Read from the marks on, in a thread of its own."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.look()
            except SQLAlchemyError as err:  # a locked SQLite file, say: the next look retries
                log.warning("milestones: %s", err)
            self._stopping.wait(self.every_s)

    def look(self) -> None:
        """One look at the store: emit what is new since the last."""
        assert self._store is not None, "mark() first"
        with self._store.sessions() as db:
            self._read_verdicts(db)
            self._read_audit(db)

    def _read_verdicts(self, db: Session) -> None:
        if self.verdicts.done:
            return
        rows = db.scalars(
            select(InstanceView)
            .where(InstanceView.scored_at.is_not(None))
            .order_by(InstanceView.updated_at)
        )
        for row in rows:
            before = self._scored_before.get((row.tenant_id, row.instance_id))
            if before is not None and row.scored_at is not None and row.scored_at <= before:
                continue  # a verdict from before this run
            for milestone in self.verdicts.see(row):
                self.emit(milestone)

    def _read_audit(self, db: Session) -> None:
        entries = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > self._audit_after, AuditEntry.action.in_(MILESTONE_ACTIONS))
            .order_by(AuditEntry.id)
        ).all()
        for entry in entries:
            self._audit_after = entry.id
            milestone = from_audit(entry)
            if milestone is not None:
                self.emit(milestone)

    def stop(self) -> None:
        """Stop reading and let the store go."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._store is not None:
            self._store.dispose()
