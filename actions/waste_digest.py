"""The digest's waste section: pending resources grouped by kind, each kind with its count
and dollars a month, each resource with its page on the dashboard.

>>> from datetime import UTC, datetime
>>> eip = WasteAlertState(tenant_id="t1", kind="elastic-ip", resource_id="eipalloc-0abc",
...     region="us-east-1", name="", reason="not associated", monthly_waste_usd=3.6)
>>> vol = WasteAlertState(tenant_id="t1", kind="ebs-volume", resource_id="vol-0abc",
...     region="us-east-1", name="old-data", reason="unattached 9 days", monthly_waste_usd=40.0)
>>> groups = waste_groups("https://app.example", [eip, vol], lambda at: "2026-11-20")
>>> [(g.label, g.count, g.monthly_waste_usd) for g in groups]
[('EBS volumes', 1, 40.0), ('Elastic IPs', 1, 3.6)]
>>> groups[0].items[0].detail_url
'https://app.example/waste/ebs-volume/vol-0abc'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from spendsense.store.models.waste import WasteAlertState

KIND_LABELS: dict[str, str] = {
    "ebs-volume": "EBS volumes",
    "elastic-ip": "Elastic IPs",
    "nat-gateway": "NAT gateways",
    "load-balancer": "Load balancers",
    "rds-instance": "RDS databases",
    "ebs-snapshot": "EBS snapshots",
}
"""How the digest, the API and the dashboard name each kind (plural)."""


def waste_url(base_url: str, kind: str, resource_id: str) -> str:
    """A resource's page on the dashboard (a load balancer's ARN is kept readable).

    >>> waste_url("https://app.example/", "nat-gateway", "nat-0abc")
    'https://app.example/waste/nat-gateway/nat-0abc'
    """
    return f"{base_url.rstrip('/')}/waste/{kind}/{quote(resource_id, safe=':')}"


@dataclass(frozen=True)
class WasteItem:
    """One wasted resource as the digest shows it."""

    resource_id: str
    name: str
    region: str
    since: str
    reason: str
    monthly_waste_usd: float
    detail_url: str


@dataclass(frozen=True)
class WasteGroup:
    """One kind's pending resources, with their count and dollars a month."""

    kind: str
    label: str
    items: tuple[WasteItem, ...]

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def monthly_waste_usd(self) -> float:
        return round(sum(i.monthly_waste_usd for i in self.items), 2)


def waste_groups(
    base_url: str, states: Sequence[WasteAlertState], when: Callable[[datetime | None], str]
) -> list[WasteGroup]:
    """``states`` grouped by kind, costliest kind first, costliest resource first in each."""
    by_kind: dict[str, list[WasteItem]] = {}
    for st in states:
        by_kind.setdefault(st.kind, []).append(
            WasteItem(
                resource_id=st.resource_id,
                name=st.name or "",
                region=st.region,
                since=when(st.since),
                reason=st.reason or "",
                monthly_waste_usd=st.monthly_waste_usd or 0.0,
                detail_url=waste_url(base_url, st.kind, st.resource_id),
            )
        )
    groups = [
        WasteGroup(
            kind,
            KIND_LABELS.get(kind, kind),
            tuple(sorted(items, key=lambda i: (-i.monthly_waste_usd, i.resource_id))),
        )
        for kind, items in by_kind.items()
    ]
    return sorted(groups, key=lambda g: (-g.monthly_waste_usd, g.kind))
