"""Request and response shapes of the notification channels (``/api/channels``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelKindName = Literal["slack", "teams", "webhook"]
Subscription = Literal["idle-findings", "anomalies", "actions", "failures"]
ALL_TOPICS: list[Subscription] = ["idle-findings", "anomalies", "actions", "failures"]


class ChannelCreate(BaseModel):
    """A new channel: its kind, a name, its incoming-webhook URL and what it gets."""

    model_config = ConfigDict(extra="forbid")
    kind: ChannelKindName
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=8, max_length=2000)
    subscriptions: list[Subscription] = Field(default_factory=lambda: list(ALL_TOPICS))
    enabled: bool = True


class ChannelUpdate(BaseModel):
    """A change to a channel: only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=8, max_length=2000)
    subscriptions: list[Subscription] | None = None
    enabled: bool | None = None


class FailedDelivery(BaseModel):
    """A delivery that died (refused, or out of attempts) or whose outcome is unknown."""

    id: int
    topic: str
    summary: str
    status: Literal["dead", "unknown"]
    attempts: int
    error: str | None
    reserved_at: datetime


class Channel(BaseModel):
    """A channel as the settings page shows it: the URL masked, its recent failures."""

    id: int
    kind: ChannelKindName
    name: str
    url_masked: str
    subscriptions: list[Subscription]
    enabled: bool
    signed: bool
    created_at: datetime
    last_sent_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: list[FailedDelivery]


class ChannelCreated(Channel):
    """A new channel; a webhook's signing secret is in it this once, never again."""

    signing_secret: str | None = None


class ChannelTest(BaseModel):
    """What the test message got: delivered or not, the HTTP status and the error."""

    ok: bool
    status_code: int | None
    error: str | None
