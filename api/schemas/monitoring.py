"""The monitoring page: the pipeline's key figures for the caller's tenant, and where to look."""

from __future__ import annotations

from datetime import datetime

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


class Monitoring(BaseModel):
    figures: list[Figure]
    accounts: list[AccountHealth]
    prometheus_url: str
    grafana_url: str


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
