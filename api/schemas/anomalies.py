"""Usage anomalies of an instance, and which of them alert (the organisation's setting)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from actions.anomaly_alerts import AnomalyAlertMode


class Anomaly(BaseModel):
    """One incident: a metric of the instance left its learned pattern from ``since`` to
    ``ended_at`` (null while it lasts). Values are in the metric's unit: CPU percent, or
    bytes summed over a 5-minute period."""

    incident_id: str
    metric: Literal["cpu_percent", "network_in_bytes", "network_out_bytes"]
    status: Literal["open", "closed"]
    direction: Literal["up", "down"]
    since: datetime
    ended_at: datetime | None
    observed: float = Field(description="the value that opened it, or its most extreme value")
    expected_low: float
    expected_high: float
    dollars_per_hour: float | None = Field(description="its cost; null: no direct cost")
    cost_basis: str = Field(description="how the cost was priced, or why there is none")


class AnomalyAlertSettings(BaseModel):
    """Which usage anomalies the digest tells of: ``all``, ``priced`` (those costing more
    than ``min_usd_per_hour`` dollars an hour; the default, at 0: every anomaly with a
    direct cost) or ``none`` (they still show on the instance page)."""

    mode: AnomalyAlertMode = "priced"
    min_usd_per_hour: float = Field(
        0.0, ge=0.0, le=10_000.0, description="dollars per hour; used by the priced mode"
    )
