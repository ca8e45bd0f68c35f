"""Tables, one module per concern; importing this package registers them all on ``Base``."""

from spendsense.store.models.accounts import AuditEntry, AwsAccount, Tenant, User
from spendsense.store.models.actions import (
    AlertCooldown,
    EmailOutbox,
    InstanceAlertState,
    StopDecision,
    UsedLink,
)
from spendsense.store.models.base import Base, UtcDateTime, utcnow

__all__ = [
    "AlertCooldown",
    "AuditEntry",
    "AwsAccount",
    "Base",
    "EmailOutbox",
    "InstanceAlertState",
    "StopDecision",
    "Tenant",
    "UsedLink",
    "User",
    "UtcDateTime",
    "utcnow",
]
