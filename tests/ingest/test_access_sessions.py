"""TenantSessions against a moto server: one AssumeRole per credential lifetime, refreshed early."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto.server import ThreadedMotoServer

from spendsense.access import AccountRef, TenantSessions, new_external_id
from spendsense.aws import AwsFactory
from spendsense.settings import AwsSettings


@pytest.fixture(scope="module")
def factory() -> Iterator[AwsFactory]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield AwsFactory(
        AwsSettings(
            endpoint_url=f"http://{host}:{port}",
            access_key_id="AKIASPENDSENSETEST01",
            secret_access_key="spendsense-test-secret",
        )
    )
    server.stop()


def test_credentials_are_cached_then_refreshed_before_expiry(factory: AwsFactory) -> None:
    now = [datetime.now(UTC)]
    calls: list[tuple[str, str]] = []
    sessions = TenantSessions(
        factory,
        duration_s=900,
        refresh_margin=timedelta(minutes=5),
        clock=lambda: now[0],
        on_call=lambda _a, service, op: calls.append((service, op)),
    )
    account = AccountRef(
        "acme", "210987654321", "arn:aws:iam::210987654321:role/SpendSense", new_external_id()
    )
    first = sessions.credentials(account)
    ec2 = sessions.client(account, "ec2", "us-east-1")
    assert sessions.client(account, "ec2", "us-east-1") is ec2
    ec2.describe_instances()
    assert sessions.credentials(account) is first
    assert calls.count(("sts", "AssumeRole")) == 1
    assert ("ec2", "DescribeInstances") in calls

    now[0] = first.expiration - timedelta(minutes=4)  # inside the refresh margin
    second = sessions.credentials(account)
    assert second.access_key_id != first.access_key_id
    assert calls.count(("sts", "AssumeRole")) == 2
    assert sessions.client(account, "ec2", "us-east-1") is not ec2


def test_test_connection_reaches_the_role_account(factory: AwsFactory) -> None:
    sessions = TenantSessions(factory)
    account = AccountRef(
        "acme", "210987654321", "arn:aws:iam::210987654321:role/SpendSense", new_external_id()
    )
    assert sessions.test_connection(account) == "210987654321"
