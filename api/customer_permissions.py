"""The customer role's permission lists, as the registries declare them: the collectors'
reads (``ingest.registry``), what the actions run in the customer's account need
(``actions.registry``) and what the resource kinds' safe actions need, on which resource
types (``spendsense.resources.registry``). The API's role documents and the sandbox's
customer role both take them from here.

>>> grants = declared()
>>> "ec2:StopInstances" in grants.stop, "cloudwatch:GetMetricData" in grants.read
(True, True)
>>> ("ec2:DeleteVolume", "volume") in grants.waste
True
"""

from __future__ import annotations

from actions.registry import customer_permissions
from ingest.registry import load_collectors
from spendsense.customer_role import RolePermissions
from spendsense.resources.registry import action_permissions


def declared() -> RolePermissions:
    """Every IAM action a registered collector, customer-account action or resource kind's
    action declares."""
    return RolePermissions(
        read=tuple(load_collectors().permissions()),
        act=tuple(customer_permissions()),
        waste=tuple(action_permissions()),
    )
