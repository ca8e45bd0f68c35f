"""Notification channels from the actions worker's services: a PostgreSQL store, the
sandbox account (SES for the digest e-mail) and a local receiver on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actions.channels import addresses
from actions.channels.dispatch import ChannelDispatcher
from actions.channels.notes import action_note
from spendsense.events import ActionRecord
from spendsense.settings import ChannelsSettings
from spendsense.store.models import ChannelDelivery, NotificationChannel
from tests.actions.conftest import Rig
from tests.fixtures.receiver import Receiver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_test-secret"
BASE = "https://spendsense.test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def channels(rig: Rig) -> Iterator[ChannelDispatcher]:
    """The dispatcher as the worker wires it: hearing of every digest the alerts reserve."""
    cfg = ChannelsSettings(allow_hosts=["127.0.0.1"], max_attempts=3)
    dispatcher = ChannelDispatcher(cfg, rig.settings, rig.store.sessions, rig.sink, clock=rig.clock)
    rig.alerts.after_flush = dispatcher.digest
    rig.runtime.channels = dispatcher
    yield dispatcher
    dispatcher.close()


def add_channel(
    rig: Rig, receiver: Receiver, kind: str, *topics: str, tenant: str = "acme", url: str = ""
) -> int:
    with rig.store.sessions.begin() as session:
        channel = NotificationChannel(
            tenant_id=tenant,
            kind=kind,
            name=f"{kind} {tenant}",
            url=url or receiver.url(f"/{tenant}/{kind}"),
            signing_secret=SECRET if kind == "webhook" else None,
            subscriptions=list(topics),
        )
        session.add(channel)
        session.flush()
        return channel.id


def documented_verify() -> Callable[[str, bytes, str, str], bool]:
    """The verify snippet of docs/webhooks.md, run as a receiver would paste it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert code is not None
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)  # noqa: S102 (the documented snippet is the subject under test)
    verify: Callable[[str, bytes, str, str], bool] = scope["verify_spendsense"]
    return verify


def stop_record(instance_id: str, result: str = "stopped", tenant: str = "acme") -> ActionRecord:
    return ActionRecord(
        tenant_id=tenant,
        instance_id=instance_id,
        action="stop",
        actor="alice@acme.test",
        reason="idle 3 days",
        result=result,
        at=datetime(2026, 12, 6, 20, 0, tzinfo=UTC),
    )


def deliveries(rig: Rig) -> list[ChannelDelivery]:
    with rig.store.sessions() as session:
        return list(session.scalars(select(ChannelDelivery).order_by(ChannelDelivery.id)).all())


def test_each_kind_gets_its_documented_payload_with_the_digest(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    for kind in ("slack", "teams", "webhook"):
        add_channel(rig, receiver, kind, "idle-findings")
    iid = "i-0aa11bb22cc33dd01"
    assert rig.runtime.handle(rig.detection(iid)) == "emailed"

    (slack,) = receiver.got("/acme/slack")
    blocks = slack.json()["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "1 idle EC2 instance, about $69/month",
    }
    assert blocks[1]["text"]["type"] == "mrkdwn"
    assert f"/instances/{iid}|box-dd01>" in blocks[1]["text"]["text"]
    assert slack.json()["text"] == blocks[0]["text"]["text"]

    (teams,) = receiver.got("/acme/teams")
    attachment = teams.json()["attachments"][0]
    assert teams.json()["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert iid in card["body"][1]["text"]

    (hook,) = receiver.got("/acme/webhook")
    body = hook.json()
    assert body["topic"] == "idle-findings" and body["instances"] == [iid]
    assert body["id"] == hook.headers["X-SpendSense-Delivery"]
    verify = documented_verify()
    ts, sig = hook.headers["X-SpendSense-Timestamp"], hook.headers["X-SpendSense-Signature"]
    assert verify(SECRET, hook.body, ts, sig)
    assert not verify(SECRET, hook.body + b" ", ts, sig)
    assert not verify("whsec_other", hook.body, ts, sig)
    assert not verify(SECRET, hook.body, str(int(ts) - 301), sig)


def test_a_channel_gets_at_most_one_digest_per_cooldown(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "slack", "idle-findings", "anomalies")
    rig.alerts.observe(rig.detection("i-0aa11bb22cc33dd02"))
    flushed = rig.alerts.flush("acme")
    assert flushed.reserved and len(receiver.got("/acme/slack")) == 1
    # a second worker hearing of the same digest (or a replay) finds the cooldown taken
    assert channels.digest("acme", flushed) == []
    rig.clock.advance(seconds=rig.settings.cooldown_s)
    assert channels.digest("acme", flushed) == ["sent"]
    assert len(receiver.got("/acme/slack")) == 2


def test_a_500_then_a_200_delivers_once(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "webhook", "actions")
    receiver.script("/acme/webhook", (500, {}))
    assert channels.action(stop_record("i-0aa11bb22cc33dd03")) == ["retry"]
    assert channels.tick() == []  # not due yet (30 s backoff)
    rig.clock.advance(seconds=30)
    assert channels.tick() == ["sent"]
    rig.clock.advance(hours=2)
    assert channels.tick() == []
    # the record replayed (a restarted consumer) is not sent again
    assert channels.action(stop_record("i-0aa11bb22cc33dd03")) == []
    first, second = receiver.got("/acme/webhook")
    assert first.body == second.body
    assert first.headers["X-SpendSense-Delivery"] == second.headers["X-SpendSense-Delivery"]
    (row,) = deliveries(rig)
    assert (row.status, row.attempts, row.status_code) == ("sent", 2, 200)


def test_a_429_waits_for_its_retry_after(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "slack", "actions")
    receiver.script("/acme/slack", (429, {"Retry-After": "120"}))
    assert channels.action(stop_record("i-0aa11bb22cc33dd04")) == ["retry"]
    (row,) = deliveries(rig)
    assert row.next_attempt_at == rig.clock() + timedelta(seconds=120)
    rig.clock.advance(seconds=119)
    assert channels.tick() == []
    rig.clock.advance(seconds=1)
    assert channels.tick() == ["sent"]
    assert len(receiver.got("/acme/slack")) == 2


def test_after_the_last_try_the_delivery_is_dead_and_failures_hear_of_it(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    broken = add_channel(rig, receiver, "teams", "actions")
    add_channel(rig, receiver, "slack", "failures")
    receiver.script("/acme/teams", *[(503, {})] * 3)
    assert channels.action(stop_record("i-0aa11bb22cc33dd05")) == ["retry"]
    rig.clock.advance(seconds=30)
    assert channels.tick() == ["retry"]
    rig.clock.advance(seconds=60)
    assert channels.tick() == ["dead"]
    rig.clock.advance(hours=2)
    assert channels.tick() == []
    assert len(receiver.got("/acme/teams")) == 3
    with rig.store.sessions() as session:
        channel = session.get(NotificationChannel, broken)
        assert channel is not None and channel.last_error is not None
        assert channel.last_error.startswith("HTTP 503")
    (dead,) = [d for d in deliveries(rig) if d.status == "dead"]
    assert dead.attempts == 3 and dead.channel_id == broken
    (notice,) = [r for r in rig.sink.records if r.action == "notify"]
    assert notice.result == "failed" and "teams channel" in notice.reason
    # the audit record reaches the channels subscribed to failures (as the worker's
    # channel-notices agent hands it on from the actions topic)
    assert channels.action(notice) == ["sent"]
    (failure,) = receiver.got("/acme/slack")
    assert failure.json()["blocks"][0]["text"]["text"] == "notify failed"


def test_a_refusal_is_dead_at_once(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "webhook", "failures")
    receiver.script("/acme/webhook", (404, {}))
    assert channels.action(stop_record("i-0aa11bb22cc33dd06", result="failed")) == ["dead"]
    assert not [r for r in rig.sink.records if r.action == "notify"]  # no failure loop


def test_a_worker_killed_during_the_call_never_resends(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "slack", "actions")
    record = stop_record("i-0aa11bb22cc33dd07")
    # reserved, then the worker died before (or during) the call
    assert (
        channels.outbox.reserve_once("acme", action_note(BASE, record, "actions"), "killed") != []
    )
    rig.clock.advance(seconds=channels.settings.lease_s + 1)
    assert channels.tick() == []
    (row,) = deliveries(rig)
    assert row.status == "unknown"
    assert receiver.got("/acme/slack") == []


def test_channels_only_hear_of_their_own_tenant(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "slack", "actions", "idle-findings")
    add_channel(rig, receiver, "slack", "actions", "idle-findings", tenant="globex")
    assert channels.action(stop_record("i-0aa11bb22cc33dd08")) == ["sent"]
    rig.runtime.handle(rig.detection("i-0aa11bb22cc33dd09"))
    assert len(receiver.got("/acme/slack")) == 2
    assert receiver.got("/globex/slack") == []


def test_refusals_and_disabled_channels_send_nothing(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    channel_id = add_channel(rig, receiver, "slack", "actions")
    assert channels.action(stop_record("i-0aa11bb22cc33dd10", result="refused")) == []
    with rig.store.sessions.begin() as session:
        channel = session.get(NotificationChannel, channel_id)
        assert channel is not None
        channel.enabled = False
    assert channels.action(stop_record("i-0aa11bb22cc33dd10")) == []
    assert receiver.got("/acme/slack") == []


def waste_record(action: str, resource_id: str, result: str) -> ActionRecord:
    """An action on a wasted resource as the waste executor audits it."""
    return ActionRecord(
        tenant_id="acme",
        account_id="111111111111",
        action=action,
        actor="policy:waste",
        reason="unattached 30 days",
        result=result,
        at=datetime(2026, 12, 6, 21, 0, tzinfo=UTC),
        resource_kind=action.split(":")[0],
        resource_id=resource_id,
        decision_key=f"acme/{resource_id}",
    )


def test_waste_actions_reach_the_actions_channel_and_their_failures_the_failures_one(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    add_channel(rig, receiver, "webhook", "actions")
    add_channel(rig, receiver, "slack", "failures")
    taken = [
        waste_record("ebs-volume:snapshot-then-delete", "vol-0aa11bb22cc33dd01", "deleted"),
        waste_record("elastic-ip:release", "eipalloc-0aa11bb22cc33dd01", "released"),
        waste_record("nat-gateway:tag-and-notify", "nat-0aa11bb22cc33dd01", "tagged"),
        waste_record("rds-instance:stop", "db-orders-staging", "stopped"),
    ]
    for record in taken:  # all at the same instant, by the same actor: each one sent
        assert channels.action(record) == ["sent"], record.action
    got = [r.json() for r in receiver.got("/acme/webhook")]
    assert [b["title"] for b in got] == [
        "ebs-volume snapshot-then-delete deleted: vol-0aa11bb22cc33dd01",
        "elastic-ip release released: eipalloc-0aa11bb22cc33dd01",
        "nat-gateway tag-and-notify tagged: nat-0aa11bb22cc33dd01",
        "rds-instance stop stopped: db-orders-staging",
    ]
    (item,) = got[0]["items"]
    assert item == {
        "label": "vol-0aa11bb22cc33dd01",
        "detail": (
            "ebs-volume vol-0aa11bb22cc33dd01 deleted by policy:waste at 2026-12-06 21:00 UTC: "
            "unattached 30 days"
        ),
        "url": f"{rig.settings.public_base_url.rstrip('/')}/waste/ebs-volume/vol-0aa11bb22cc33dd01",
    }
    assert got[0]["topic"] == "actions" and got[0]["record"]["resource_id"] == item["label"]
    assert receiver.got("/acme/slack") == []
    # a failed one goes to the failures channel only; a refusal goes nowhere
    failed = waste_record("rds-instance:stop", "db-orders-staging", "failed")
    assert channels.action(failed) == ["sent"]
    assert channels.action(waste_record("elastic-ip:release", "eipalloc-1", "refused")) == []
    (failure,) = receiver.got("/acme/slack")
    assert failure.json()["text"] == "rds-instance stop failed: db-orders-staging"
    assert len(receiver.got("/acme/webhook")) == 4


def test_a_host_resolving_inward_is_refused_at_connect(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel saved while its host was public, whose host now resolves to a private
    address (DNS rebinding, or a row written before the check): never connected to."""
    inward = add_channel(rig, receiver, "webhook", "actions", url="https://hooks.example.test/x")
    add_channel(rig, receiver, "slack", "failures")
    monkeypatch.setattr(addresses, "resolve", lambda host, port: [ip_address("10.0.0.5")])
    assert channels.action(stop_record("i-0aa11bb22cc33dd11")) == ["dead"]
    refusal = "the channel URL resolves to a private address (10.0.0.5): use a public endpoint"
    with rig.store.sessions() as session:
        channel = session.get(NotificationChannel, inward)
        assert channel is not None and channel.last_error == refusal
    (row,) = deliveries(rig)
    assert (row.status, row.status_code, row.error) == ("dead", None, refusal)
    # the receiver (admitted by name) still hears of the failure
    (notice,) = [r for r in rig.sink.records if r.action == "notify"]
    assert channels.action(notice) == ["sent"]
    assert len(receiver.got("/acme/slack")) == 1


def test_a_dead_deliverys_error_never_quotes_the_receiver(
    rig: Rig, channels: ChannelDispatcher, receiver: Receiver
) -> None:
    broken = add_channel(rig, receiver, "webhook", "actions")
    receiver.script("/acme/webhook", (404, {}))
    assert channels.action(stop_record("i-0aa11bb22cc33dd12")) == ["dead"]
    with rig.store.sessions() as session:
        channel = session.get(NotificationChannel, broken)
        assert channel is not None and channel.last_error == "HTTP 404: Not Found"
