"""The tenant's notification channels: list, add, change, remove, send a test message.

URLs are checked here (https, or http to a host in ``channels.allow_hosts``; a host
resolving to a loopback, private or other non-public address refused unless named
there, see :mod:`actions.channels.addresses`) and never returned whole: :func:`mask`
keeps the host and the last four characters. A webhook's signing secret is generated
here and returned once, on creation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.channels.addresses import UnsafeAddress, admitted, check
from actions.channels.notes import trial_note
from actions.channels.outbox import render
from actions.channels.sender import new_client, post
from actions.channels.webhook import new_secret
from api.errors import ApiError
from api.schemas.channels import (
    Channel,
    ChannelCreate,
    ChannelCreated,
    ChannelTest,
    ChannelUpdate,
    FailedDelivery,
)
from spendsense.settings import ChannelsSettings
from spendsense.store.models import ChannelDelivery, NotificationChannel

FAILURES_SHOWN = 10


def mask(url: str) -> str:
    """The URL as the settings page shows it: scheme, host and the last four characters.

    >>> mask("https://hooks.slack.com/services/T000/B000/XXXXabcd")
    'https://hooks.slack.com/…abcd'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…{url[-4:]}"


def check_url(settings: ChannelsSettings, url: str) -> str:
    """``url`` if SpendSense may post to it; a one-line 422 saying what to fix otherwise."""
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    allowed_http = parsed.scheme == "http" and admitted(parsed.host, settings.allow_hosts)
    if not parsed.host or not (parsed.scheme == "https" or allowed_http):
        raise ApiError(
            422,
            "invalid_url",
            "url must be an https:// address (plain http only to the hosts in "
            "SPENDSENSE_CHANNELS__ALLOW_HOSTS)",
        )
    try:
        check(url, settings.allow_hosts)
    except UnsafeAddress as exc:
        raise ApiError(422, "unsafe_url", str(exc)) from exc
    return url


def failures(db: Session, channel_id: int) -> list[FailedDelivery]:
    """The channel's latest dead or unknown deliveries, newest first."""
    rows = db.scalars(
        select(ChannelDelivery)
        .where(
            ChannelDelivery.channel_id == channel_id,
            ChannelDelivery.status.in_(("dead", "unknown")),
        )
        .order_by(ChannelDelivery.id.desc())
        .limit(FAILURES_SHOWN)
    ).all()
    return [
        FailedDelivery(
            id=r.id,
            topic=r.topic,
            summary=r.summary,
            status="dead" if r.status == "dead" else "unknown",
            attempts=r.attempts,
            error=r.error,
            reserved_at=r.reserved_at,
        )
        for r in rows
    ]


def to_schema(db: Session, c: NotificationChannel) -> Channel:
    return Channel(
        id=c.id,
        kind=c.kind,
        name=c.name,
        url_masked=mask(c.url),
        subscriptions=list(c.subscriptions or []),
        enabled=c.enabled,
        signed=c.signing_secret is not None,
        created_at=c.created_at,
        last_sent_at=c.last_sent_at,
        last_error=c.last_error,
        last_error_at=c.last_error_at,
        failures=failures(db, c.id),
    )


def get_channel(db: Session, tenant_id: str, channel_id: int) -> NotificationChannel:
    """The tenant's channel ``channel_id``; 404 if it has none by that id."""
    channel = db.get(NotificationChannel, channel_id)
    if channel is None or channel.tenant_id != tenant_id:
        raise ApiError(404, "channel_not_found", "no such channel in your organisation")
    return channel


def list_channels(db: Session, tenant_id: str) -> list[Channel]:
    rows = db.scalars(
        select(NotificationChannel)
        .where(NotificationChannel.tenant_id == tenant_id)
        .order_by(NotificationChannel.id)
    ).all()
    return [to_schema(db, c) for c in rows]


def create_channel(
    db: Session, settings: ChannelsSettings, tenant_id: str, body: ChannelCreate
) -> ChannelCreated:
    """Add a channel; a webhook gets a new signing secret, returned this once."""
    secret = new_secret() if body.kind == "webhook" else None
    channel = NotificationChannel(
        tenant_id=tenant_id,
        kind=body.kind,
        name=body.name.strip(),
        url=check_url(settings, body.url),
        signing_secret=secret,
        subscriptions=sorted(set(body.subscriptions)),
        enabled=body.enabled,
    )
    db.add(channel)
    db.commit()
    return ChannelCreated(**to_schema(db, channel).model_dump(), signing_secret=secret)


def update_channel(
    db: Session, settings: ChannelsSettings, tenant_id: str, channel_id: int, body: ChannelUpdate
) -> Channel:
    channel = get_channel(db, tenant_id, channel_id)
    if body.name is not None:
        channel.name = body.name.strip()
    if body.url is not None:
        channel.url = check_url(settings, body.url)
    if body.subscriptions is not None:
        channel.subscriptions = sorted(set(body.subscriptions))
    if body.enabled is not None:
        channel.enabled = body.enabled
    db.commit()
    return to_schema(db, channel)


def delete_channel(db: Session, tenant_id: str, channel_id: int) -> str:
    channel = get_channel(db, tenant_id, channel_id)
    name = channel.name
    db.delete(channel)
    db.commit()
    return name


def send_test(
    db: Session, settings: ChannelsSettings, public_url: str, tenant_id: str, channel_id: int
) -> ChannelTest:
    """Post a test message to the channel now (one try); a failure becomes its last error."""
    channel = get_channel(db, tenant_id, channel_id)
    key = uuid.uuid4().hex
    body = render(channel.kind, trial_note(public_url, tenant_id, channel.name), key)
    with new_client(settings.timeout_s) as client:
        answer = post(
            client,
            channel.kind,
            channel.url,
            body.encode(),
            channel.signing_secret,
            key,
            settings.allow_hosts,
        )
    now = datetime.now(UTC)
    if answer.verdict == "sent":
        channel.last_sent_at = now
    else:
        channel.last_error, channel.last_error_at = f"test: {answer.error}", now
    db.commit()
    ok = answer.verdict == "sent"
    return ChannelTest(ok=ok, status_code=answer.status_code, error=None if ok else answer.error)
