"""Ingest test helpers: a store with two tenants whose roles live in the sandbox, and topic readers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.orm import Session, sessionmaker

from ingest.cloudwatch import align
from ingest.runner import CollectorService
from spendsense.access import AccountRef, new_external_id
from spendsense.kafka_clients import kafka_python_config
from spendsense.metrics import CollectorRegistry
from spendsense.producer import make_producer
from spendsense.settings import IngestSettings, KafkaSettings, Settings, StoreSettings
from spendsense.store.engine import make_engine, session_factory
from spendsense.store.migrate import ensure_schema
from spendsense.store.tenants import add_aws_account, create_tenant
from spendsense.topics import partitions_for, topic_spec
from tests.fixtures.sandbox import Sandbox

REGIONS = ["us-east-1", "eu-west-1"]
TENANTS = ("acme", "globex")


@dataclass
class IngestEnv:
    """Two tenants (one sandbox account each) in a fresh store, isolated topics."""

    settings: Settings
    store: sessionmaker[Session]
    sandbox: Sandbox
    accounts: dict[str, AccountRef]
    producers: list[Any] = field(default_factory=list)

    def clock(self) -> datetime:
        """The sandbox's now: the collectors must see the time its fleet plays in."""
        return datetime.fromtimestamp(self.sandbox.now(), UTC)

    def service(
        self,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
        collectors: list[str] | None = None,
        **ingest: Any,
    ) -> CollectorService:
        settings = self.settings.model_copy(
            update={"ingest": self.settings.ingest.model_copy(update=ingest)}
        )
        producer = make_producer(settings.kafka, client_id="ingest-test")
        self.producers.append(producer)
        return CollectorService(
            settings,
            self.store,
            producer,
            registry or CollectorRegistry(),
            clock=clock or self.clock,
            collectors=collectors,
        )

    def backfill_start(self, before: datetime) -> datetime:
        """A period every backfill started after ``before`` covers (one period of slack for a
        collector whose clock crossed a 5-minute boundary since)."""
        ingest = self.settings.ingest
        back = timedelta(seconds=ingest.settle_s) + timedelta(days=ingest.backfill_days)
        return align(before - back) + timedelta(minutes=5)

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for a ``spendsense collect`` subprocess."""
        aws = self.settings.aws
        assert aws.access_key_id is not None and aws.secret_access_key is not None
        return {
            "SPENDSENSE_AWS__ENDPOINT_URL": str(aws.endpoint_url),
            "SPENDSENSE_AWS__ACCESS_KEY_ID": aws.access_key_id.get_secret_value(),
            "SPENDSENSE_AWS__SECRET_ACCESS_KEY": aws.secret_access_key.get_secret_value(),
            "SPENDSENSE_AWS__MAX_ATTEMPTS": str(aws.max_attempts),
            "SPENDSENSE_STORE__URL": self.settings.store.url,
            "SPENDSENSE_KAFKA__TOPIC_PREFIX": self.settings.kafka.topic_prefix,
            "SPENDSENSE_INGEST__BACKFILL_DAYS": str(self.settings.ingest.backfill_days),
            "SPENDSENSE_INGEST__METRICS_PORT": "0",
            "SPENDSENSE_INGEST__REGIONS": json.dumps(REGIONS),
        }


def read_topic(kafka: KafkaSettings, name: str) -> list[Any]:
    """Every record on ``<prefix><name>`` now (all partitions, from the start to the end)."""
    consumer = KafkaConsumer(**kafka_python_config(kafka, group_id=None, enable_auto_commit=False))
    try:
        topic = f"{kafka.topic_prefix}{name}"
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        # The `kafka` fixture created it with this many partitions; fewer means it was deleted
        # during the test (and maybe auto-created again, empty, with the broker's default of 1),
        # e.g. by another pytest session's teardown on the same broker (tests/conftest.py):
        # say so rather than report every record as missing.
        created = partitions_for(kafka, topic_spec(name))
        assert len(tps) == created, (
            f"{topic} has {len(tps)} partitions, not the {created} it was created with: "
            "deleted while the test ran (another test session on the same broker?)"
        )
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for messages in consumer.poll(timeout_ms=1000).values():
                out.extend(messages)
        return out
    finally:
        consumer.close()


def metric_periods(kafka: KafkaSettings) -> list[tuple[str, str, str]]:
    """(tenant, instance, period) of every period in the ``metrics`` records, duplicates kept;
    each record is a version 2 poll of one instance, its periods oldest first."""
    out = []
    for msg in read_topic(kafka, "metrics"):
        value = json.loads(msg.value)
        assert msg.key.decode() == value["instance_id"] and value["version"] == 2
        stamps = [p["timestamp"] for p in value["periods"]]
        assert stamps == sorted(set(stamps))
        out += [(value["tenant_id"], value["instance_id"], stamp) for stamp in stamps]
    return out


@pytest.fixture(params=["sqlite"])
def ingest_env(
    request: pytest.FixtureRequest, sandbox: Sandbox, kafka: KafkaSettings, tmp_path: Path
) -> Iterator[IngestEnv]:
    """Parametrize indirectly with ``"postgresql"`` to run on the PostgreSQL store."""
    if request.param == "postgresql":
        store_url = request.getfixturevalue("postgres_url")
    else:
        store_url = f"sqlite:///{tmp_path / f'ingest-{uuid.uuid4().hex[:6]}.db'}"
    settings = Settings(_env_file=None).model_copy(
        update={
            "aws": sandbox.aws_settings(max_attempts=3),
            "kafka": kafka,
            "store": StoreSettings(url=store_url),
            "ingest": IngestSettings(backfill_days=0.25, regions=REGIONS, metrics_port=0),
        }
    )
    engine = make_engine(settings.store)
    ensure_schema(engine)
    store = session_factory(engine)
    accounts = {}
    with store.begin() as session:
        for tenant, account_id in zip(TENANTS, sandbox.tenant_account_ids, strict=False):
            role_arn, external_id = sandbox.create_role(account_id, external_id=new_external_id())
            create_tenant(session, tenant.title(), tenant_id=tenant)
            row = add_aws_account(
                session, tenant, account_id, external_id=external_id, role_arn=role_arn
            )
            accounts[tenant] = AccountRef.of(row)
    env = IngestEnv(settings, store, sandbox, accounts)
    yield env
    for producer in env.producers:
        producer.close(timeout=10)
    engine.dispose()
