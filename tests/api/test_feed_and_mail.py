"""The live feed is per tenant (from Kafka); the demo's mail view shows the sandbox's mail."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from spendsense.events import ActionRecord, DetectionRecord
from spendsense.producer import make_producer
from spendsense.settings import Settings, get_settings
from spendsense.topics import ACTIONS, DETECTIONS, topic_name
from tests.api.conftest import User, live_api, random_instance_id, sign_up
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.kafka


def detection(tenant_id: str, instance_id: str) -> DetectionRecord:
    return DetectionRecord(
        tenant_id=tenant_id,
        account_id="111111111111",
        region="us-east-1",
        instance_id=instance_id,
        timestamp=datetime.now(UTC),
        score=0.31,  # the model's novelty: never in the feed
        idle=True,
        confidence=0.87,
        reason="flat",
        monthly_waste_usd=12.0,
    )


def session_cookie(user: User) -> str:
    return f"spendsense_session={user.client.cookies.get('spendsense_session')}"


def test_each_tenant_sees_only_its_own_events(sandbox_app: FastAPI) -> None:
    settings: Settings = sandbox_app.state.spendsense.settings
    alice, bob = sign_up(sandbox_app), sign_up(sandbox_app)
    mine, theirs = random_instance_id(), random_instance_id()
    with live_api(sandbox_app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/feed").status_code == 401
        with http.stream("GET", "/api/feed", headers={"Cookie": session_cookie(alice)}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: ready"
            assert next(lines) == 'data: {"kafka": true}'
            producer = make_producer(settings.kafka, client_id="feed-test")
            producer.send(
                topic_name(settings.kafka, DETECTIONS),
                key=theirs.encode(),
                value=detection(bob.tenant_id, theirs).to_bytes(),
            )
            producer.send(
                topic_name(settings.kafka, DETECTIONS),
                key=mine.encode(),
                value=detection(alice.tenant_id, mine).to_bytes(),
            )
            stop = ActionRecord(
                tenant_id=alice.tenant_id,
                instance_id=mine,
                action="stop",
                actor=alice.email,
                result="stopped",
                at=datetime.now(UTC),
            )
            producer.send(
                topic_name(settings.kafka, ACTIONS),
                key=alice.tenant_id.encode(),
                value=stop.to_bytes(),
            )
            producer.flush(10)
            producer.close(10)
            received: list[str] = []
            for line in lines:
                received.append(line)
                if line.startswith("data:") and '"action": "stop"' in line:
                    break
    text = "\n".join(received)
    assert "event: detection" in text and mine in text and "event: action" in text
    shown = json.loads(next(line for line in received if mine in line and "status" in line)[5:])
    assert (shown["status"], shown["confidence"], shown["monthly_waste_usd"]) == (
        "idle",
        0.87,
        12.0,
    )
    assert "score" not in shown and 0.31 not in shown.values()
    assert theirs not in text and bob.tenant_id not in text and alice.tenant_id not in text


def test_demo_mail_view_shows_the_alerts_sent_to_you(
    sandbox_app: FastAPI, sandbox: Sandbox
) -> None:
    alice = sign_up(sandbox_app)
    stranger = f"x{uuid.uuid4().hex[:8]}@example.com"
    ses = sandbox.client("ses")
    for to, subject in ((alice.email, "2 idle instances"), (stranger, "not yours")):
        ses.send_email(
            Source=get_settings().sandbox.sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject},
                "Body": {"Html": {"Data": "<p>Stop?</p>"}, "Text": {"Data": "Stop?"}},
            },
        )
    mail = alice.client.get("/api/demo/mail").json()["messages"]
    # newest first: the alert, then the link that confirmed her address at sign-up
    assert [m["subject"] for m in mail] == ["2 idle instances", "Confirm your SpendSense sign-up"]
    assert mail[0]["html"] == "<p>Stop?</p>" and mail[0]["to"] == [alice.email]
    sandbox_app.state.spendsense.settings.api.demo_mode = False
    try:
        assert alice.client.get("/api/demo/mail").status_code == 404
    finally:
        sandbox_app.state.spendsense.settings.api.demo_mode = True
