"""The worker's side of usage anomalies: what the model service's incidents become on the wire.

The model opens and closes incidents (:mod:`detector.model.incidents`); the worker knows the
instance (its region and type, from the reference view's inventory) and turns each into an
:class:`~spendsense.events.AnomalyRecord`, priced by :mod:`detector.usage_prices`. It also says
which periods may open one: :func:`alerts_from`, the first period at the live edge, so a
backfill (or a worker catching up after an outage) is learnt but raises nothing, as idle
verdicts on past periods alert nothing (:mod:`detector.liveness`); the model itself opens
nothing before a week of history.

>>> from datetime import datetime, timezone
>>> from detector.protocol import IncidentOut
>>> from spendsense.events import MetricRecord
>>> t = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
>>> record = MetricRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...     instance_id="i-0abc1234", timestamp=t, period_s=300, cpu_percent=4.0,
...     network_in_bytes=1e5, network_out_bytes=9e8)
>>> opened = IncidentOut(metric="network_out_bytes", status="open", since=t, observed=9e8,
...     expected_low=1e3, expected_high=2e6, score=0.9)
>>> a = anomaly_record(record, opened, None)
>>> a.incident_id, a.direction, a.dollars_per_hour
('i-0abc1234/network_out_bytes/20261120T1000Z', 'up', 0.9698)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from detector.protocol import IncidentOut
from detector.usage_prices import anomaly_cost
from spendsense.events import AnomalyRecord, InventoryRecord, MetricRecord


def alerts_from(now: datetime, period_s: float, live_edge_s: float) -> datetime:
    """The start of the first period at the live edge (:func:`detector.liveness.at_live_edge`).

    >>> from datetime import timezone
    >>> alerts_from(datetime(2026, 12, 1, 12, tzinfo=timezone.utc), 300, 3_600).isoformat()
    '2026-12-01T10:55:00+00:00'
    """
    return now - timedelta(seconds=live_edge_s + period_s)


def incident_id(instance_id: str, metric: str, since: datetime) -> str:
    """The id both records of one incident carry (deterministic, so a replay repeats it)."""
    return f"{instance_id}/{metric}/{since:%Y%m%dT%H%MZ}"


def anomaly_record(
    record: MetricRecord, incident: IncidentOut, inventory: InventoryRecord | None
) -> AnomalyRecord:
    """The record of an incident that ``record``'s period opened or closed."""
    region = inventory.region if inventory else record.region
    instance_type = inventory.instance_type if inventory else ""
    cost = anomaly_cost(
        incident.metric, incident.observed, incident.expected_high, region, instance_type
    )
    return AnomalyRecord(
        tenant_id=record.tenant_id,
        account_id=record.account_id,
        region=record.region,
        instance_id=record.instance_id,
        incident_id=incident_id(record.instance_id, incident.metric, incident.since),
        metric=incident.metric,
        status=incident.status,
        direction="up",  # the model opens incidents on rises only (detector.model.incidents)
        since=incident.since,
        timestamp=record.timestamp,
        ended_at=incident.ended_at,
        observed=incident.observed,
        expected_low=incident.expected_low,
        expected_high=incident.expected_high,
        score=incident.score,
        dollars_per_hour=cost.dollars_per_hour,
        cost_basis=cost.basis,
        instance_type=instance_type,
        name=inventory.name if inventory else "",
    )
