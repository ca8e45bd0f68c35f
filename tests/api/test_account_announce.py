"""Connecting and disconnecting an AWS account tells the collectors, on ``accounts``, and a
broker that is down costs the request nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from httpx import Response

from spendsense.events import AccountRecord
from spendsense.topics import ACCOUNTS
from tests.api.conftest import User
from tests.api.test_accounts import Published

ARN = "arn:aws:iam::123456789012:role/SpendSense"


@pytest.fixture
def sink(api_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Published]:
    published = Published()
    monkeypatch.setattr(api_app.state.spendsense, "events", published)
    yield published


def connect(user: User) -> Response:
    return user.client.post(
        "/api/accounts", json={"role_arn": ARN}, headers={"X-CSRF-Token": user.csrf}
    )


def announced(sink: Published, count: int) -> list[tuple[str, AccountRecord]]:
    """The first ``count`` records on ``accounts`` (sent from a background thread)."""
    deadline = time.monotonic() + 10
    while len(sink.sent) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    out = []
    for topic, key, record in sink.sent:
        assert topic == ACCOUNTS and isinstance(record, AccountRecord)
        out.append((key, record))
    assert len(out) == count, out
    return out


def test_connect_and_disconnect_are_put_on_accounts(alice: User, sink: Published) -> None:
    assert connect(alice).status_code == 201
    [(key, record)] = announced(sink, 1)
    assert key == f"{alice.tenant_id}/123456789012" and record.connected

    gone = alice.client.delete("/api/accounts/123456789012", headers={"X-CSRF-Token": alice.csrf})
    assert gone.status_code == 200, gone.text
    (_, first), (key, record) = announced(sink, 2)
    assert key == first.key and not record.connected


def test_a_broker_that_is_down_does_not_fail_the_connection(alice: User, sink: Published) -> None:
    sink.down = True
    assert connect(alice).status_code == 201
    assert [a["account_id"] for a in alice.client.get("/api/accounts").json()] == ["123456789012"]
