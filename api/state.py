"""What one API process holds: settings, the store, keys, metrics, the live-feed hub.

Built by :func:`api.main.create_app`; nothing here connects until a request needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink
from api.cache import TenantCache
from api.feed import FeedHub
from api.limits import StoreReads
from api.logins import LoginCache
from api.metrics import ApiMetrics
from api.security import Keys
from api.services.instance_actions import InstanceActions
from api.services.metric_history import MetricHistory
from spendsense.aws import AwsFactory, SesClient
from spendsense.counters import SharedCounter
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings


@dataclass
class AppState:
    """Everything a request handler may need, reached through ``api.deps``."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: Keys
    registry: CollectorRegistry
    metrics: ApiMetrics
    feed: FeedHub
    aws: AwsFactory
    actions: InstanceActions
    # instances' 14-day CloudWatch series, read through the tenants' roles, kept 5 minutes
    history: MetricHistory
    # the project's topics, waiting for the broker's acknowledgement (tenant settings)
    events: EventSink
    store_reads: StoreReads
    # bumped by the projector after each commit: kept instance pages are read again
    projections: SharedCounter
    # bumped by the collectors after they store a new Cost Explorer answer
    cost_changes: SharedCounter
    # logins kept until any log-out (api.logins); None: every request reads its session
    logins: LoginCache[Any] | None
    # figures shared by many requests, read again in the background after 2 s: instance
    # pages and counts, the cost summary; cost summaries by the version of the cached
    # Cost Explorer answers they come from (10 min)
    figures: TenantCache = field(default_factory=lambda: TenantCache(ttl_s=2.0))
    costs: TenantCache = field(default_factory=lambda: TenantCache(ttl_s=600.0))
    extras: dict[str, object] = field(default_factory=dict)
    # SpendSense's own SES client for account mail (api.mail), built on first use
    ses: SesClient = field(init=False)

    def __post_init__(self) -> None:
        self.ses = SesClient(self.aws, self.settings.actions.ses_region)
