"""The digest's anomaly section: each usage anomaly incident as the email shows it.

:func:`anomaly_items` turns a tenant's pending :class:`AnomalyAlertState` rows into
:class:`AnomalyItem` s, each with its signed single-use "Expected" link
(:mod:`actions.links`) and the instance's page; :mod:`actions.digest` renders them below
the idle instances.

Values come in the metric's own unit, as the ``metrics`` topic carries them (CPU in percent,
network in bytes summed over a 5-minute period); network is written per second, as the
instance page's chart draws it.

>>> amount("cpu_percent", 97.0), amount("network_out_bytes", 2.4e9)
('97.0 %', '8.0 MB/s')
>>> rate_text(9.72), rate_text(9.72, "egress at $0.09/GB")
('$9.72/hour (about $7,096/month)', '$9.72/hour (about $7,096/month): egress at $0.09/GB')
>>> rate_text(None), rate_text(None, "no direct cost: a possible compromise")
('no direct cost', 'no direct cost: a possible compromise')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from actions.anomaly_alerts import HOURS_PER_MONTH
from actions.links import detail_url, link_url, sign
from spendsense.settings import ActionsSettings
from spendsense.store.models import AnomalyAlertState

PERIOD_S = 300  # the metrics topic's period: network values are bytes summed over it
METRIC_LABELS = {
    "cpu_percent": "CPU",
    "network_in_bytes": "Network in",
    "network_out_bytes": "Network out",
}


@dataclass(frozen=True)
class AnomalyItem:
    """One anomaly incident as the digest shows it."""

    instance_id: str
    name: str
    region: str
    metric: str
    direction: str
    since: str
    ended: str
    observed: str
    expected: str
    rate: str
    dollars_per_hour: float
    expected_url: str
    detail_url: str


def amount(metric: str, value: float, period_s: int = PERIOD_S) -> str:
    """A value of ``metric`` in words: CPU percent, or network bytes of a ``period_s``
    period as a rate per second (as the instance page's chart draws it)."""
    if metric == "cpu_percent":
        return f"{value:.1f} %"
    unit, scaled = "B/s", float(value) / period_s
    for bigger in ("KB/s", "MB/s", "GB/s"):
        if scaled < 1000:
            break
        unit, scaled = bigger, scaled / 1000
    return f"{scaled:,.1f} {unit}"


def rate_text(
    dollars_per_hour: float | None, cost_basis: str = "", lasted_s: float | None = None
) -> str:
    """An anomaly's dollar rate and how it was priced, or why it has no direct cost: per
    hour and per month while it goes on, per hour and in all once it ended (``lasted_s``).

    >>> rate_text(2.7)
    '$2.70/hour (about $1,971/month)'
    >>> rate_text(2.7, "egress", lasted_s=1200)
    '$2.70/hour while it lasted (20 minutes: about $0.90 in all): egress'
    >>> rate_text(2.7, lasted_s=86400)
    '$2.70/hour while it lasted (24.0 hours: about $64.80 in all)'
    >>> rate_text(None, "no direct cost: a possible compromise")
    'no direct cost: a possible compromise'
    """
    if dollars_per_hour is None:
        return cost_basis or "no direct cost"
    if lasted_s is None:
        monthly = dollars_per_hour * HOURS_PER_MONTH
        rate = f"${dollars_per_hour:,.2f}/hour (about ${monthly:,.0f}/month)"
    else:
        hours = lasted_s / 3600
        lasted = f"{lasted_s / 60:,.0f} minutes" if hours < 2 else f"{hours:,.1f} hours"
        rate = (
            f"${dollars_per_hour:,.2f}/hour while it lasted "
            f"({lasted}: about ${dollars_per_hour * hours:,.2f} in all)"
        )
    return f"{rate}: {cost_basis}" if cost_basis else rate


def lasted_s(a: AnomalyAlertState) -> float | None:
    """How long an incident that ended lasted, in seconds; ``None`` while it goes on."""
    return None if a.ended_at is None else (a.ended_at - a.since).total_seconds()


def anomaly_items(
    settings: ActionsSettings,
    key: bytes,
    anomalies: Sequence[AnomalyAlertState],
    now: datetime,
    when: Callable[[datetime | None], str],
) -> list[AnomalyItem]:
    """Each pending incident with its signed "Expected" link, signed at ``now`` (``when``
    writes a moment as the digest does)."""
    items = []
    for a in anomalies:
        token = sign(
            key,
            a.tenant_id,
            a.instance_id,
            "anomaly-expected",
            ttl_s=settings.link_ttl_s,
            account_id=a.account_id,
            region=a.region,
            incident_id=a.incident_id,
            metric=a.metric,
            now=now,
        )
        items.append(
            AnomalyItem(
                instance_id=a.instance_id,
                name=a.name,
                region=a.region or "",
                metric=METRIC_LABELS.get(a.metric, a.metric),
                direction="up" if a.direction == "up" else "down",
                since=when(a.since),
                ended=when(a.ended_at) if a.ended_at else "",
                observed=amount(a.metric, a.observed),
                expected=f"{amount(a.metric, a.expected_low)} to {amount(a.metric, a.expected_high)}",
                rate=rate_text(a.dollars_per_hour, a.cost_basis, lasted_s(a)),
                # the subject adds up what still costs: an incident that ended costs no more
                dollars_per_hour=(a.dollars_per_hour or 0.0) if a.ended_at is None else 0.0,
                expected_url=link_url(settings.public_base_url, token),
                detail_url=detail_url(settings.public_base_url, a.instance_id),
            )
        )
    return items
