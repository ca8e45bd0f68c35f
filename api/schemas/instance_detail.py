"""One instance in full: its verdict, 14 days of CloudWatch metrics, quiet runs, usage anomalies,
emails, audit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.anomalies import Anomaly
from api.schemas.audit import AuditItem
from api.schemas.instances import Instance, Status


class Verdict(BaseModel):
    """The detector's newest verdict and the rest level it learned for this instance."""

    status: Status
    confidence: float | None = Field(description="0..1; null before the first verdict")
    reason: str = Field(description="one sentence with the numbers behind the verdict")
    idle_since: datetime | None
    scored_at: datetime | None = Field(description="the period the verdict is about")
    rest_cpu_percent: float | None = Field(
        description="upper limit of the learned rest level's CPU; null before any"
    )
    rest_network_bps: float | None = Field(
        description="upper limit of the learned rest level's network in + out, bytes per second"
    )


class MetricSeries(BaseModel):
    """CloudWatch points on a regular grid: item ``n`` of each list is the 5-minute period
    starting at ``start + n * period_s``; ``null`` where CloudWatch has no point."""

    start: datetime
    end: datetime
    period_s: int
    cpu_percent: list[float | None] = Field(description="CPUUtilization, Average")
    network_bps: list[float | None] = Field(
        description="(NetworkIn + NetworkOut) Sum over the period, per second"
    )
    error: str | None = Field(
        None, description="why CloudWatch could not be read (the lists are empty then)"
    )


class QuietRun(BaseModel):
    """A stretch of consecutive points under both rest limits."""

    start: datetime
    end: datetime = Field(description="the end of its last period")
    periods: int


class AlertEmail(BaseModel):
    """An alert email that named this instance."""

    id: int
    recipient: str
    subject: str
    status: str = Field(description="reserved, sent, retry, failed or unknown")
    reserved_at: datetime
    sent_at: datetime | None


class InstanceDetail(BaseModel):
    """What the instance page shows; ``series.error`` says when AWS did not answer."""

    instance: Instance
    verdict: Verdict
    series: MetricSeries
    quiet_runs: list[QuietRun]
    anomalies: list[Anomaly] = Field(description="usage anomaly incidents, newest first")
    alerts: list[AlertEmail]
    audit: list[AuditItem]
