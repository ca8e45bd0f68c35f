"""The monitoring page: the pipeline's key figures for the caller's tenant, and where to look."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Figure(BaseModel):
    label: str
    value: str
    hint: str = ""


class AccountHealth(BaseModel):
    account_id: str
    status: str
    status_message: str | None
    status_at: datetime | None


class ConsumerLag(BaseModel):
    """How far one consumer group (or the collector, for your accounts) is behind."""

    group: str
    value: float | None
    unit: Literal["records", "seconds"]


class LastCollection(BaseModel):
    """When one of your accounts was last collected without an error, as Prometheus saw it."""

    account_id: str
    at: datetime | None


class ErrorRate(BaseModel):
    """Errors a minute over the last 5 minutes."""

    label: str
    per_minute: float


class PipelineHealth(BaseModel):
    """The pipeline as the API's own Prometheus queries see it; ``reachable`` false (and
    ``message`` one line) when Prometheus does not answer."""

    reachable: bool
    message: str = ""
    consumer_lag: list[ConsumerLag] = []
    last_collection: list[LastCollection] = []
    error_rates: list[ErrorRate] = []


class Monitoring(BaseModel):
    figures: list[Figure]
    accounts: list[AccountHealth]
    pipeline: PipelineHealth
    # where an operator opens Prometheus and Grafana; None for everyone else
    prometheus_link: str | None
    grafana_link: str | None


class MailMessage(BaseModel):
    """An e-mail the sandbox's SES accepted (demo mode)."""

    source: str
    to: list[str]
    subject: str
    sent_at: datetime
    text: str | None
    html: str | None


class MailBox(BaseModel):
    messages: list[MailMessage]
