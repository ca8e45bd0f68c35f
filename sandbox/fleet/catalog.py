"""The fleet's cast: tenants, regions, instance types, teams and the tags instances carry.

>>> [t.account_id for t in tenants(3)]
['111111111111', '222222222222', '333333333333']
>>> tenants(2)[1].name
'globex'
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS: dict[str, float] = {"us-east-1": -5.0, "eu-west-1": 0.0}
"""Regions the fleet spans and the UTC offset (hours) of their users' office hours."""

_TENANT_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")

INSTANCE_TYPES: dict[str, tuple[str, ...]] = {
    # by workload: the sizes such a workload usually runs on
    "web": ("t3.small", "t3.medium", "t3.large", "m5.large", "m5.xlarge", "c5.large", "c5.xlarge"),
    "service": ("t3.micro", "t3.small", "t3.medium", "m5.large", "r5.large"),
    "batch": ("c5.2xlarge", "c5.4xlarge", "m5.2xlarge", "r5.2xlarge", "m5.4xlarge"),
    "dev": ("t3.micro", "t3.small", "t3.medium", "t3.large", "m5.large", "m5.xlarge"),
    "burstable": (
        "t3.nano",
        "t3.micro",
        "t3.small",
        "t3.medium",
        "t3a.micro",
        "t3a.small",
        "t3a.medium",
        "t4g.nano",
        "t4g.micro",
        "t4g.small",
        "t4g.medium",
    ),
}
INSTANCE_STORE_TYPES = ("m3.medium", "m3.large", "c3.large", "c3.xlarge", "r3.large")
"""Types that can boot from an instance-store root (such instances cannot be stopped)."""

TEAMS = ("payments", "search", "data", "platform", "mobile", "growth", "ml", "infra")
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
ENVS = ("prod", "staging", "dev", "test")


@dataclass(frozen=True)
class Tenant:
    """One customer: its ``name`` and AWS ``account_id``."""

    name: str
    account_id: str


def tenants(count: int) -> list[Tenant]:
    """The first ``count`` tenants: 111111111111 (acme), 222222222222 (globex), ..."""
    out = []
    for k in range(1, count + 1):
        name = _TENANT_NAMES[k - 1] if k <= len(_TENANT_NAMES) else f"tenant{k}"
        account = str(k) * 12 if k <= 9 else f"{100_000_000_000 + k}"
        out.append(Tenant(name, account))
    return out


ROLE_BY_KIND = {
    "web-diurnal": "web",
    "steady-service": "service",
    "nightly-batch": "batch",
    "weekly-job": "batch",
    "nab-replay": "service",
    "abandoned": "dev",
    "idle-since-launch": "dev",
    "idle-with-spikes": "service",
    "agent-monitoring": "service",
    "agent-runtime": "service",
    "agent-windows": "service",
    "agent-burstable": "burstable",
    "internal-service": "service",
    "queue-worker": "batch",
    "dev-weekdays": "dev",
    "steady-proxy": "web",
}
"""Which instance-type family and name a kind's instances get."""
