"""Notification channels (Slack, Teams, signed webhooks): admins add, change, remove and
test them; every read and write is scoped to the caller's organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import AdminLogin, DbSession, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas.channels import Channel, ChannelCreate, ChannelCreated, ChannelTest, ChannelUpdate
from api.schemas.common import Ok
from api.services import channels as svc

router = APIRouter(tags=["channels"], responses=ERROR_RESPONSES)

ChannelId = Annotated[int, Path(ge=1, description="the channel's id")]


@router.get("/api/channels")
def list_channels(login: AdminLogin, db: DbSession) -> list[Channel]:
    """The organisation's channels: URLs masked, last error and recent failed deliveries."""
    return svc.list_channels(db, login.tenant_id)


@router.post("/api/channels", status_code=201)
def create_channel(
    body: ChannelCreate, login: AdminLogin, db: DbSession, state: StateDep
) -> ChannelCreated:
    """Add a channel; a webhook's signing secret is in this answer only."""
    return svc.create_channel(db, state.settings.channels, login.tenant_id, body)


@router.put("/api/channels/{channel_id}")
def update_channel(
    channel_id: ChannelId, body: ChannelUpdate, login: AdminLogin, db: DbSession, state: StateDep
) -> Channel:
    return svc.update_channel(db, state.settings.channels, login.tenant_id, channel_id, body)


@router.delete("/api/channels/{channel_id}")
def delete_channel(channel_id: ChannelId, login: AdminLogin, db: DbSession) -> Ok:
    name = svc.delete_channel(db, login.tenant_id, channel_id)
    return Ok(message=f"channel {name!r} removed")


@router.post("/api/channels/{channel_id}/test")
def send_test_message(
    channel_id: ChannelId, login: AdminLogin, db: DbSession, state: StateDep
) -> ChannelTest:
    """Post a test message to the channel now and say what came back."""
    return svc.send_test(
        db, state.settings.channels, state.settings.api.public_url, login.tenant_id, channel_id
    )
