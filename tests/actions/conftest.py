"""Fixtures for the actions suite: the sandbox AWS account, a PostgreSQL store with two
tenants connected to it through their roles (AssumeRole + ExternalId), and the services
wired as the worker wires them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from actions.alerts import AlertService
from actions.links import LinkClaims, decode
from actions.metrics import ActionsMetrics
from actions.policy import AutoStopPolicy
from actions.runtime import ActionsRuntime
from actions.stopping import StopExecutor
from actions.waste_executor import WasteExecutor
from actions.waste_policy import WastePolicy
from api.security import hash_password
from spendsense.access import TenantSessions
from spendsense.aws import AwsFactory
from spendsense.events import ActionRecord, DetectionRecord, Event
from spendsense.metrics import CollectorRegistry
from spendsense.settings import (
    ActionsSettings,
    ApiSettings,
    AwsSettings,
    KafkaSettings,
    Settings,
    StoreSettings,
)
from spendsense.store import Store, add_aws_account, create_tenant, create_user, open_store
from spendsense.topics import ACTIONS, topic_spec
from tests.api.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.fixtures.sandbox import Sandbox

REGION = "us-east-1"
ROLE_NAME = "SpendSenseActionsTests"
KEY = "k" * 40


@dataclass(frozen=True)
class TenantAccount:
    tenant_id: str
    account_id: str
    role_arn: str
    external_id: str


@pytest.fixture(scope="session")
def tenant_accounts(sandbox: Sandbox) -> dict[str, TenantAccount]:
    """Two tenants, each with a role of its own in one sandbox account."""
    out = {}
    for tenant_id, account_id in zip(("acme", "globex"), sandbox.tenant_account_ids, strict=False):
        arn, external_id = sandbox.create_role(account_id, role_name=ROLE_NAME)
        out[tenant_id] = TenantAccount(tenant_id, account_id, arn, external_id)
    return out


def make_store(url: str, accounts: dict[str, TenantAccount], alert_email: str) -> Store:
    store = open_store(StoreSettings(url=url))
    with store.sessions.begin() as session:
        for acc in accounts.values():
            create_tenant(
                session,
                acc.tenant_id.title(),
                tenant_id=acc.tenant_id,
                alert_email=alert_email if acc.tenant_id == "acme" else None,
            )
            add_aws_account(
                session,
                acc.tenant_id,
                acc.account_id,
                external_id=acc.external_id,
                role_arn=acc.role_arn,
                regions=[REGION],
            )
    return store


@pytest.fixture
def store(postgres_url: str, tenant_accounts: dict[str, TenantAccount]) -> Iterator[Store]:
    """A migrated PostgreSQL store with tenants ``acme`` and ``globex``."""
    st = make_store(postgres_url, tenant_accounts, f"ops-{uuid.uuid4().hex[:8]}@acme.test")
    yield st
    st.dispose()


class ListSink:
    """Keeps published records (the Kafka sink is tested with the worker)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Event]] = []

    def send(self, topic: str, record: Event) -> None:
        self.sent.append((topic, topic_spec(topic).key_of(record), record))

    @property
    def records(self) -> list[ActionRecord]:
        return [r for t, _, r in self.sent if t == ACTIONS and isinstance(r, ActionRecord)]


@dataclass
class Rig:
    sandbox: Sandbox
    accounts: dict[str, TenantAccount]
    settings: ActionsSettings
    aws: AwsSettings
    factory: AwsFactory
    store: Store
    executor: StopExecutor
    alerts: AlertService
    policy: AutoStopPolicy
    runtime: ActionsRuntime
    sink: ListSink
    metrics: ActionsMetrics
    clock: Clock
    _ec2: dict[str, Any] = field(default_factory=dict)

    @property
    def recipient(self) -> str:
        with self.store.sessions() as session:
            from spendsense.store import get_tenant

            tenant = get_tenant(session, "acme")
            assert tenant is not None and tenant.alert_email
            return tenant.alert_email

    def ec2(self, tenant: str = "acme") -> Any:
        """An EC2 client inside the tenant's account (as its owner would act)."""
        if tenant not in self._ec2:
            acc = self.accounts[tenant]
            self._ec2[tenant] = self.sandbox.assume(acc.role_arn, acc.external_id, REGION).client(
                "ec2", endpoint_url=self.sandbox.endpoint_url
            )
        return self._ec2[tenant]

    def run_instance(self, tenant: str = "acme", **kwargs: Any) -> str:
        ec2 = self.ec2(tenant)
        resp = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", **kwargs
        )
        return str(resp["Instances"][0]["InstanceId"])

    def state(self, instance_id: str, tenant: str = "acme") -> str:
        resp = self.ec2(tenant).describe_instances(InstanceIds=[instance_id])
        return str(resp["Reservations"][0]["Instances"][0]["State"]["Name"])

    def tags(self, instance_id: str, tenant: str = "acme") -> dict[str, str]:
        resp = self.ec2(tenant).describe_instances(InstanceIds=[instance_id])
        inst = resp["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}

    def mail_to(self, recipient: str) -> list[Any]:
        return [m for m in self.sandbox.mail() if recipient in m.to]

    def api_settings(self, kafka: KafkaSettings, var_dir: Path) -> Settings:
        """Settings for the API over the rig's store, sandbox account and actions settings."""
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            var_dir=var_dir,
            kafka=kafka,
            aws=self.aws,
            actions=self.settings,
            store=StoreSettings(url=self.store.engine.url.render_as_string(hide_password=False)),
            api=ApiSettings(session_secret=SecretStr("s" * 48)),
        )

    def log_in(self, client: TestClient) -> str:
        """``client`` logged in as a new member of tenant acme: the session's CSRF token."""
        email = f"member-{uuid.uuid4().hex[:8]}@acme.example.com"
        with self.store.sessions.begin() as session:
            create_user(session, "acme", email, hash_password(PASSWORD))
        anonymous = client.get("/api/auth/csrf").json()["csrf_token"]
        me = client.post(
            "/api/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": anonymous},
        )
        assert me.status_code == 200, me.text
        return str(me.json()["csrf_token"])

    def claims(self, url: str) -> LinkClaims:
        return decode(KEY.encode(), url.rsplit("/", 1)[1])

    def detection(self, instance_id: str, idle: bool = True, **kw: Any) -> DetectionRecord:
        """A detection of ``instance_id`` (acme's account) stamped with the rig's clock."""
        tenant = kw.pop("tenant", "acme")
        fields: dict[str, Any] = {
            "tenant_id": tenant,
            "account_id": self.accounts[tenant].account_id,
            "region": REGION,
            "instance_id": instance_id,
            "timestamp": self.clock(),
            "score": 0.97 if idle else 0.1,
            "idle": idle,
            "idle_since": self.clock() - timedelta(days=2) if idle else None,
            "confidence": 0.9,
            "reason": "CPU under 1% and no network for 2 days" if idle else "",
            "monthly_waste_usd": 69.12 if idle else 0.0,
            "instance_type": "m5.large",
            "name": f"box-{instance_id[-4:]}",
        }
        fields.update(kw)
        return DetectionRecord(**fields)


class Clock:
    """A clock the test moves: the services take it instead of the wall clock.

    It starts a little ahead of the wall clock, so instances the test launches in the
    sandbox (whose EC2 launch times are wall-clock) are in its past, as in life.
    """

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_rig(
    sandbox: Sandbox,
    accounts: dict[str, TenantAccount],
    store: Store,
    clock: Clock | None = None,
    **settings: Any,
) -> Rig:
    """The services over ``store`` and the sandbox, as :func:`build_runtime` wires them."""
    cfg = ActionsSettings(link_signing_key=KEY, **settings)  # type: ignore[arg-type]
    aws = sandbox.aws_settings()
    factory = AwsFactory(aws)
    metrics = ActionsMetrics(CollectorRegistry())
    sink = ListSink()
    clock = clock or Clock()
    executor = StopExecutor(
        cfg, store.sessions, TenantSessions(factory), sink, metrics, clock=clock
    )
    ses = factory.client("ses", region=REGION)
    alerts = AlertService(
        cfg, store.sessions, lambda: ses, KEY.encode(), sink, metrics, clock=clock
    )
    policy = AutoStopPolicy(cfg, store.sessions, executor, sink, clock=clock)
    waste = WastePolicy(
        store.sessions,
        WasteExecutor(cfg, store.sessions, TenantSessions(factory), sink, clock=clock),
    )
    runtime = ActionsRuntime(store, alerts, policy, executor, sink, metrics, waste_policy=waste)
    return Rig(
        sandbox,
        accounts,
        cfg,
        aws,
        factory,
        store,
        executor,
        alerts,
        policy,
        runtime,
        sink,
        metrics,
        clock,
    )


@pytest.fixture
def rig(sandbox: Sandbox, tenant_accounts: dict[str, TenantAccount], store: Store) -> Rig:
    return make_rig(sandbox, tenant_accounts, store)
