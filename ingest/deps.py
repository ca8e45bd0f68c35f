"""What every collector gets: sessions into customer accounts, a publisher, the store, a clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from ingest.metrics import IngestMetrics
from ingest.recovery import PublishedPeriods
from spendsense.access import AccountRef, TenantSessions
from spendsense.counters import SharedCounter
from spendsense.producer import Publisher
from spendsense.settings import IngestSettings

if TYPE_CHECKING:
    from ingest.polling import PollingPolicy


@dataclass
class IngestDeps:
    """Shared by every collector in a process (thread-safe parts only)."""

    settings: IngestSettings
    sessions: TenantSessions
    store: sessionmaker[Session]
    metrics: IngestMetrics
    policy: PollingPolicy
    clock: Callable[[], datetime]
    recovered: PublishedPeriods = field(default_factory=PublishedPeriods)
    # bumped after a new Cost Explorer answer is stored: API processes of this host show it
    # at once (None: nobody on this host to tell)
    cost_changes: SharedCounter | None = None
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class AccountJob:
    """One account's collection cycle: its regions, the cycle's time, its publisher.

    ``instances`` is filled by the inventory collector (region → instances seen), so
    the collectors after it know what exists without asking AWS again.
    """

    account: AccountRef
    regions: list[str]
    now: datetime
    publisher: Publisher
    instances: dict[str, list[InstanceInfo]] = field(default_factory=dict)
    errors: list[tuple[str | None, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class InstanceInfo:
    """What the metrics collector needs of an instance from the inventory."""

    instance_id: str
    state: str
    launch_time: datetime
