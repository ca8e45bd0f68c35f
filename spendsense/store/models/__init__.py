"""Tables, one module per concern; importing this package registers them all on ``Base``."""

from spendsense.store.models.accounts import AuditEntry, AwsAccount, Tenant, User
from spendsense.store.models.actions import (
    AlertCooldown,
    AnomalyAlertState,
    EmailOutbox,
    InstanceAlertState,
    StopDecision,
    UsedLink,
)
from spendsense.store.models.anomalies import AnomalyView
from spendsense.store.models.api import AttemptCounter, EmailToken, InstanceView, LoginSession
from spendsense.store.models.base import Base, UtcDateTime, utcnow
from spendsense.store.models.ingest import (
    CostCache,
    CostExplorerCall,
    IngestCheckpoint,
    MetricCursor,
)

__all__ = [
    "AlertCooldown",
    "AnomalyAlertState",
    "AnomalyView",
    "AttemptCounter",
    "AuditEntry",
    "AwsAccount",
    "Base",
    "CostCache",
    "CostExplorerCall",
    "EmailOutbox",
    "EmailToken",
    "IngestCheckpoint",
    "InstanceAlertState",
    "InstanceView",
    "LoginSession",
    "MetricCursor",
    "StopDecision",
    "Tenant",
    "UsedLink",
    "User",
    "UtcDateTime",
    "utcnow",
]
