"""The demo's milestones: what a newcomer wants to see happen, one line each, and where
each one comes from.

================  ===============================================================
milestone         source
================  ===============================================================
ready             the supervisor, once a process's readiness probe answers
backfill          the collector's output: a :class:`~ingest.progress.BackfillProgress`
                  line per batch of an account's backfill
detection         the dashboard's table in the store (the projector folds ``detections``
                  into it): the first verdict of the run, and the first idle one
email, stop       the audit log in the store: each email and each stop, as the actions
                  worker (or a person, for stops) recorded it
================  ===============================================================

Each source's record becomes a :class:`Milestone` here; :mod:`devstack.milestone_feed`
reads the store, and :mod:`devstack.console` prints.

>>> ready("api", "http://127.0.0.1:8000/").text
'api at http://127.0.0.1:8000/'
>>> duration(75), duration(3_720), duration(0.4)
('1 min 15 s', '1 h 2 min', '<1 s')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.progress import BackfillProgress

if TYPE_CHECKING:
    from spendsense.store.models import AuditEntry, InstanceView

SHOWN_INSTANCES = 8
"""An email's instances listed on its line; the rest are counted."""


@dataclass(frozen=True)
class Milestone:
    """One line of the demo's story: its kind (``ready``, ``backfill``, ...) and text.

    ``key`` names a milestone that repeats with news (an account's backfill): the console
    may leave out a repeat that comes too soon after the last one shown, never a ``final``
    one."""

    kind: str
    text: str
    key: str | None = None
    final: bool = True


def duration(seconds: float) -> str:
    """A duration as a person reads it: seconds, minutes and seconds, or hours and minutes."""
    if seconds < 1:
        return "<1 s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3_600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3_600} h {whole % 3_600 // 60} min"


def ready(name: str, url: str | None) -> Milestone:
    """A process answered its readiness probe."""
    return Milestone("ready", f"{name} at {url}" if url else name)


def backfill(progress: BackfillProgress) -> Milestone:
    """An account's backfill: periods done of those due, with an ETA from its pace so far.

    >>> p = BackfillProgress(tenant_id="t", account_id="111111111111", periods_done=1_000,
    ...                      periods_total=4_000, elapsed_s=20.0)
    >>> backfill(p).text
    'account 111111111111: 1,000 of 4,000 periods (25%), ETA 1 min 0 s'
    >>> backfill(p.model_copy(update={"periods_done": 3_999})).text
    'account 111111111111: 3,999 of 4,000 periods (99%), ETA <1 s'
    >>> backfill(p.model_copy(update={"periods_done": 4_000, "elapsed_s": 65.0})).text
    'account 111111111111: 4,000 of 4,000 periods, done in 1 min 5 s'
    """
    done, total = progress.periods_done, progress.periods_total
    head = f"account {progress.account_id}: {done:,} of {total:,} periods"
    final = done >= total
    if final:
        text = f"{head}, done in {duration(progress.elapsed_s)}"
    else:
        eta = progress.elapsed_s * (total - done) / done if done else None
        percent = done * 100 // total if total else 0  # 99% until it is all done
        text = f"{head} ({percent}%), ETA {duration(eta) if eta is not None else 'unknown'}"
    return Milestone("backfill", text, key=f"backfill {progress.account_id}", final=final)


def from_output(line: str) -> Milestone | None:
    """The milestone a line of a process's output announces, if any."""
    progress = BackfillProgress.find(line)
    return backfill(progress) if progress is not None else None


def verdict(record: InstanceView, first: str) -> Milestone:
    """A row's verdict as a milestone: ``first`` says which first it is ("first", "first idle").

    >>> from datetime import UTC, datetime
    >>> from spendsense.store.models import InstanceView
    >>> r = InstanceView(account_id="111111111111", region="us-east-1",
    ...     instance_id="i-0123456789abcdef0", idle=True, provisional=False,
    ...     idle_since=datetime(2026, 11, 29, 4, 5, tzinfo=UTC),
    ...     confidence=0.93, name="batch-7", instance_type="m5.large", monthly_waste_usd=70.08)
    >>> verdict(r, "first idle").text  # doctest: +NORMALIZE_WHITESPACE
    'first idle verdict: i-0123456789abcdef0 (batch-7, m5.large) in 111111111111 us-east-1:
     idle since 2026-11-29 04:05 UTC, confidence 0.93, $70.08 a month'
    """
    named = ", ".join(part for part in (record.name, record.instance_type) if part)
    where = f"{record.instance_id}{f' ({named})' if named else ''}"
    text = f"{first} verdict: {where} in {record.account_id} {record.region}: {record.status}"
    if record.idle_since is not None:
        text += f" since {record.idle_since:%Y-%m-%d %H:%M} UTC"
    if record.idle:
        text += (
            f", confidence {record.confidence or 0:.2f}, ${record.monthly_waste_usd:,.2f} a month"
        )
    return Milestone("detection", text)


class FirstVerdicts:
    """Picks the verdicts worth a line: the very first, and the first idle one."""

    def __init__(self) -> None:
        self.seen_any = False
        self.seen_idle = False

    @property
    def done(self) -> bool:
        """Whether both firsts were seen (nothing more to look for)."""
        return self.seen_any and self.seen_idle

    def see(self, record: InstanceView) -> list[Milestone]:
        """The milestones ``record`` makes: none, or a first or two."""
        found = []
        if not self.seen_any:
            self.seen_any = True
            found.append(verdict(record, "first"))
        elif record.idle and not self.seen_idle:
            found.append(verdict(record, "first idle"))
        self.seen_idle = self.seen_idle or record.idle
        return found


def from_audit(entry: AuditEntry) -> Milestone | None:
    """An email or a stop in the audit log as a milestone (other entries make none).

    >>> from spendsense.store.models import AuditEntry
    >>> email = AuditEntry(action="email", result="sent", actor="alerts",
    ...     reason="digest of 2 idle instance(s) to demo@spendsense.example",
    ...     details={"instances": ["i-0123456789abcdef0", "i-0fedcba9876543210"]})
    >>> from_audit(email).text
    'sent: digest of 2 idle instance(s) to demo@spendsense.example: i-0123456789abcdef0, i-0fedcba9876543210'
    >>> stop = AuditEntry(action="stop", result="stopped", actor="policy:auto-stop",
    ...     instance_id="i-0123456789abcdef0", account_id="111111111111", dry_run=False,
    ...     reason="idle 3 days")
    >>> from_audit(stop).text
    'i-0123456789abcdef0 in 111111111111: stopped by policy:auto-stop (idle 3 days)'
    """
    if entry.action == "email":
        instances = list((entry.details or {}).get("instances", []))
        listed = ", ".join(instances[:SHOWN_INSTANCES])
        more = len(instances) - SHOWN_INSTANCES
        tail = f" and {more} more" if more > 0 else ""
        return Milestone("email", f"{entry.result}: {entry.reason}: {listed}{tail}")
    if entry.action == "stop":
        dry = " (dry run)" if entry.dry_run else ""
        why = f" ({entry.reason})" if entry.reason else ""
        text = (
            f"{entry.instance_id} in {entry.account_id}: {entry.result}{dry} by {entry.actor}{why}"
        )
        return Milestone("stop", text)
    return None
