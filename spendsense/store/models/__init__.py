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
from spendsense.store.models.channels import ChannelDelivery, NotificationChannel
from spendsense.store.models.ingest import (
    CostCache,
    CostExplorerCall,
    IngestCheckpoint,
    MetricCursor,
)
from spendsense.store.models.ledger import SavingsEntry as SavingsEntry
from spendsense.store.models.resource_sightings import ResourceSighting as ResourceSighting
from spendsense.store.models.schedules import Schedule as Schedule
from spendsense.store.models.waste import WasteResource as WasteResource

__all__ = [
    "AlertCooldown",
    "AnomalyAlertState",
    "AnomalyView",
    "AttemptCounter",
    "AuditEntry",
    "AwsAccount",
    "Base",
    "ChannelDelivery",
    "CostCache",
    "CostExplorerCall",
    "EmailOutbox",
    "EmailToken",
    "IngestCheckpoint",
    "InstanceAlertState",
    "InstanceView",
    "LoginSession",
    "MetricCursor",
    "NotificationChannel",
    "StopDecision",
    "Tenant",
    "UsedLink",
    "User",
    "UtcDateTime",
    "utcnow",
]
