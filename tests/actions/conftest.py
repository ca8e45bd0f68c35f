"""Fixtures for the actions suite: an AWS account (moto server), a store with one tenant
connected to it, and an executor wired as the worker wires it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from actions.metrics import ActionsMetrics
from actions.stopping import StopExecutor
from spendsense.access import TenantSessions
from spendsense.aws import AwsFactory
from spendsense.events import ActionRecord
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ActionsSettings, AwsSettings, StoreSettings
from spendsense.store import Store, add_aws_account, create_tenant, open_store

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
SENDER = "alerts@spendsense.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server on a free port for the session."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(aws_endpoint: str) -> Iterator[AwsSettings]:
    """AWS settings pointing at a freshly reset account."""
    import httpx

    httpx.post(f"{aws_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    yield AwsSettings(
        endpoint_url=aws_endpoint,
        region=REGION,
        access_key_id="testing",  # type: ignore[arg-type]
        secret_access_key="testing",  # type: ignore[arg-type]
        max_attempts=2,
    )


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    """A migrated store with tenants ``acme`` (account ACCOUNT) and ``globex`` (OTHER)."""
    st = open_store(StoreSettings(url=postgres_url))
    with st.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id="acme", alert_email="ops@acme.test")
        add_aws_account(
            session,
            "acme",
            ACCOUNT,
            external_id="acme-external-id-0123456789abcdef0123",
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/SpendSense",
            regions=[REGION],
        )
        create_tenant(session, "Globex", tenant_id="globex", alert_email="it@globex.test")
        add_aws_account(
            session,
            "globex",
            OTHER_ACCOUNT,
            external_id="globex-external-id-0123456789abcdef012",
            role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/SpendSense",
            regions=[REGION],
        )
    yield st
    st.dispose()


class ListSink:
    """Keeps published action records (the Kafka sink is tested with the worker)."""

    def __init__(self) -> None:
        self.records: list[ActionRecord] = []

    def publish(self, record: ActionRecord) -> None:
        self.records.append(record)


@dataclass
class Rig:
    settings: ActionsSettings
    aws: AwsSettings
    factory: AwsFactory
    store: Store
    executor: StopExecutor
    sink: ListSink
    metrics: ActionsMetrics

    def ec2(self, account: str = ACCOUNT) -> Any:
        """An EC2 client acting inside ``account`` (through AssumeRole, as SpendSense does)."""
        sts = self.factory.client("sts")
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/test", RoleSessionName="test"
        )["Credentials"]
        session = self.factory.session(
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], REGION
        )
        return self.factory.client("ec2", session=session)

    def run_instance(self, account: str = ACCOUNT, **kwargs: Any) -> str:
        ec2 = self.ec2(account)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        resp = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", **kwargs
        )
        return str(resp["Instances"][0]["InstanceId"])

    def state(self, instance_id: str, account: str = ACCOUNT) -> str:
        resp = self.ec2(account).describe_instances(InstanceIds=[instance_id])
        return str(resp["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture
def rig(aws: AwsSettings, store: Store) -> Rig:
    settings = ActionsSettings(sender=SENDER, link_signing_key="s" * 40)  # type: ignore[arg-type]
    factory = AwsFactory(aws)
    metrics = ActionsMetrics(CollectorRegistry())
    sink = ListSink()
    executor = StopExecutor(settings, store.sessions, TenantSessions(factory), sink, metrics)
    return Rig(settings, aws, factory, store, executor, sink, metrics)
