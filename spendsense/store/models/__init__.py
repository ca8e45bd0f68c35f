"""Tables, one module per concern; importing this package registers them all on ``Base``."""

from spendsense.store.models.accounts import AuditEntry, AwsAccount, Tenant, User
from spendsense.store.models.base import Base, UtcDateTime, utcnow

__all__ = ["AuditEntry", "AwsAccount", "Base", "Tenant", "User", "UtcDateTime", "utcnow"]
