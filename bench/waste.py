"""The waste benchmark: ``spendsense bench waste --fleet DIR``.

The fleet is seeded into a sandbox AWS account (in this process); its onboarding (the
sandbox's start: the fleet's ``history_days`` are history) is when a new customer connects.
The resources collector (:mod:`ingest.resources`) then runs as it does for that customer:
its first poll at onboarding (the first digest's findings), then one poll every
``poll_hours`` of sandbox time to the fleet's end, each publishing its ``WasteRecord``\\ s
through a real broker; the records are read back from the ``waste`` topic and scored against
the labels of ``resources.json``, per kind:

- ``recall`` and ``precision`` of the last poll's findings (``waste`` records) against the
  resources labelled waste at the end;
- ``false_alerts``: resources found wasted at any poll, onboarding included, when their label
  says they were not yet (or never are), or that the fleet does not label at all;
- ``usd_found``: the monthly price of the last poll's findings, against ``usd_labelled``, the
  labelled waste's; ``usd_error``: their relative difference;
- ``first_digest``: findings at onboarding and how many of them are false.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import format_table
from sandbox.fleet import Fleet
from spendsense.events import RESOURCE_KINDS, WasteRecord
from spendsense.resources.registry import WasteRules
from spendsense.settings import KafkaSettings

HEADERS = (
    "kind",
    "resources",
    "waste",
    "found",
    "recall",
    "precision",
    "false alerts",
    "$ found",
    "$ labelled",
    "$ error",
    "1st digest",
    "1st false",
)


@dataclass
class KindScore:
    """One kind's figures."""

    kind: str
    resources: int = 0
    labelled: set[str] = field(default_factory=set)
    found: set[str] = field(default_factory=set)
    false_alerts: set[str] = field(default_factory=set)
    usd_found: float = 0.0
    usd_labelled: float = 0.0
    first_digest: set[str] = field(default_factory=set)
    first_false: set[str] = field(default_factory=set)

    @property
    def recall(self) -> float | None:
        return len(self.found & self.labelled) / len(self.labelled) if self.labelled else None

    @property
    def precision(self) -> float | None:
        return len(self.found & self.labelled) / len(self.found) if self.found else None

    @property
    def usd_error(self) -> float | None:
        if not self.usd_labelled:
            return None
        return (self.usd_found - self.usd_labelled) / self.usd_labelled

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return {
            "kind": self.kind,
            "resources": self.resources,
            "labelled_waste": len(self.labelled),
            "found": len(self.found),
            "recall": _round(self.recall),
            "precision": _round(self.precision),
            "false_alerts": len(self.false_alerts),
            "false_alert_ids": sorted(self.false_alerts),
            "missed_ids": sorted(self.labelled - self.found),
            "usd_found": round(self.usd_found, 2),
            "usd_labelled": round(self.usd_labelled, 2),
            "usd_error": _round(self.usd_error),
            "first_digest_findings": len(self.first_digest),
            "first_digest_false": len(self.first_false),
        }

    def row(self) -> list[str]:
        """The kind's table row."""
        return [
            self.kind,
            str(self.resources),
            str(len(self.labelled)),
            str(len(self.found)),
            _cell(self.recall, ".3f"),
            _cell(self.precision, ".3f"),
            str(len(self.false_alerts)),
            f"{self.usd_found:,.0f}",
            f"{self.usd_labelled:,.0f}",
            _cell(None if self.usd_error is None else 100 * self.usd_error, "+.1f", "%"),
            str(len(self.first_digest)),
            str(len(self.first_false)),
        ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell(value: float | None, pattern: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, pattern) + suffix


@dataclass
class WasteReport:
    """Every kind's score, and how the run went."""

    kinds: dict[str, KindScore]
    polls: int
    poll_hours: float
    seconds: float = 0.0
    baseline: dict[str, KindScore] | None = None
    """The same polls judged with the clean floor (any non-zero day is use), when run."""

    def table(self, markdown: bool = False, baseline: bool = False) -> str:
        kinds = self.baseline if baseline and self.baseline else self.kinds
        return format_table(HEADERS, [k.row() for k in kinds.values()], markdown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "polls": self.polls,
            "poll_hours": self.poll_hours,
            "seconds": round(self.seconds, 1),
            "kinds": [k.as_dict() for k in self.kinds.values()],
            **(
                {"baseline_clean_floor": [k.as_dict() for k in self.baseline.values()]}
                if self.baseline
                else {}
            ),
        }


def score(
    fleet: Fleet, records: list[WasteRecord], shift_s: float, onboarding: datetime
) -> dict[str, KindScore]:
    """Score the collector's records (every poll's) against the fleet's labels.

    ``shift_s`` turns sandbox time (the records' ``observed_at``) into fleet time; the last
    poll is the latest ``observed_at``; ``onboarding`` is the first poll's time (sandbox).

    >>> from sandbox.fleet.generator import FleetSpec, generate_fleet
    >>> fleet = generate_fleet(FleetSpec(seed=1, instances=4, days=16, resources=2))
    >>> scores = score(fleet, [], 0.0, fleet.end)
    >>> scores["ebs-volume"].resources, scores["ebs-volume"].recall
    (2, 0.0)
    """
    scores = {kind: KindScore(kind) for kind in RESOURCE_KINDS}
    for r in fleet.resources.values():
        scores[r.kind].resources += 1
        if r.label.waste:
            scores[r.kind].labelled.add(r.resource_id)
            scores[r.kind].usd_labelled += r.label.monthly_usd
    last = max((rec.observed_at for rec in records), default=None)
    for rec in records:
        if not rec.waste or rec.gone:
            continue
        kind = scores[rec.kind]
        resource = fleet.resources.get(rec.resource_id)
        at = rec.observed_at - timedelta(seconds=shift_s)
        false = resource is None or not resource.label.waste_at(at)
        if false:
            kind.false_alerts.add(rec.resource_id)
        if rec.observed_at == onboarding:
            kind.first_digest.add(rec.resource_id)
            if false:
                kind.first_false.add(rec.resource_id)
        if rec.observed_at == last:
            kind.found.add(rec.resource_id)
            kind.usd_found += rec.monthly_price_usd or 0.0
    return scores


def _store(url: str) -> Any:
    """A fresh store at ``url``, at the newest schema."""
    from spendsense.settings import StoreSettings
    from spendsense.store.engine import make_engine, session_factory
    from spendsense.store.migrate import ensure_schema

    engine = make_engine(StoreSettings(url=url))
    ensure_schema(engine)
    return session_factory(engine)


@contextmanager
def _sandbox(fleet: Fleet, workdir: Path) -> Iterator[Any]:
    """The fleet's sandbox account, served on a free port in this process."""
    from sandbox.server import SandboxServer
    from spendsense.settings import SandboxSettings, get_settings

    settings = SandboxSettings(port=0, fleet_dir=workdir)
    server = SandboxServer(settings, fleet, get_settings().aws.service_role_name)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: Any, stores: list[Any]) -> list[Any]:
    """Each tenant account connected as its customer would: SpendSense's role created in it,
    the tenant and the account stored (in each of ``stores``)."""
    from api.customer_permissions import declared
    from sandbox.customer import create_spendsense_role
    from spendsense.access import AccountRef
    from spendsense.store.tenants import add_aws_account, create_tenant

    fleet: Fleet = server.state.timeline.fleet
    tenants = {r.account_id: r.tenant for r in fleet.resources.values()}
    regions = sorted({r.region for r in fleet.resources.values()})
    refs = []
    for account_id, tenant in sorted(tenants.items()):
        external_id = f"bench-{uuid.uuid4().hex}"
        arn = create_spendsense_role(
            server.endpoint_url,
            account_id,
            external_id,
            server.state.vendor_account,
            declared(),
        )
        refs.append(AccountRef(tenant, account_id, arn, external_id))
    for store in stores:
        with store.begin() as session:
            for tenant in sorted({ref.tenant_id for ref in refs}):
                create_tenant(session, tenant, tenant_id=tenant)
            for ref in refs:
                add_aws_account(
                    session,
                    ref.tenant_id,
                    ref.account_id,
                    external_id=ref.external_id,
                    role_arn=ref.role_arn,
                    regions=regions,
                )
    return refs


def _collector(server: Any, store: Any, rules: Any) -> Any:
    """The resources collector with its dependencies, on the sandbox and ``store``."""
    from pydantic import SecretStr

    from ingest.deps import IngestDeps
    from ingest.metrics import IngestMetrics
    from ingest.polling import get_policy
    from ingest.resources import ResourcesCollector
    from sandbox.accounts import VENDOR_USER, user_credentials
    from spendsense.access import TenantSessions
    from spendsense.aws import AwsFactory
    from spendsense.metrics import CollectorRegistry
    from spendsense.settings import get_settings

    key, secret = user_credentials(server.state.vendor_account, VENDOR_USER)
    aws = get_settings().aws.model_copy(
        update={
            "endpoint_url": server.endpoint_url,
            "access_key_id": SecretStr(key),
            "secret_access_key": SecretStr(secret),
        }
    )
    clock = server.state.clock
    ctx = IngestDeps(
        settings=get_settings().ingest,
        sessions=TenantSessions(
            AwsFactory(aws), clock=lambda: datetime.fromtimestamp(clock.now(), tz=UTC)
        ),
        store=store,
        metrics=IngestMetrics(CollectorRegistry()),
        policy=get_policy("adaptive"),
        clock=lambda: datetime.fromtimestamp(clock.now(), tz=UTC),
    )
    return ResourcesCollector(ctx, rules)


@dataclass(frozen=True)
class _Variant:
    """One set of rules run over the same polls: its topics and its collector (judging by
    those rules, from a store of its own)."""

    kafka: KafkaSettings
    collector: Any


def run_benchmark(
    fleet: Fleet,
    kafka: KafkaSettings,
    poll_hours: float = 1.0,
    baseline: bool = False,
    progress: Callable[[str], None] = print,
) -> WasteReport:
    """Onboard the fleet's accounts, poll to the fleet's end, score; ``kafka`` is a running
    broker (the records go through topics of their own prefix, deleted after). With
    ``baseline``, a second collector with the clean floor (any non-zero day is use, no learnt
    rest levels) judges the same sandbox at the same polls, from its own store and topics.
    ``progress`` hears one line about every tenth of the polls."""
    import time

    from devstack.chaos.checks import read_topic
    from ingest.deps import AccountJob
    from spendsense import topic_admin
    from spendsense.producer import Publisher, make_producer
    from spendsense.settings import get_settings
    from spendsense.topics import WASTE_SPEC

    began = time.monotonic()
    run = uuid.uuid4().hex[:8]
    rules = [WasteRules()] + ([WasteRules(rest_levels=False)] if baseline else [])
    prefixes = [f"bench-waste-{run}-{n}-" for n in range(len(rules))]
    topics = [kafka.model_copy(update={"topic_prefix": p}) for p in prefixes]
    polls = 0
    producer = None
    try:
        for variant_kafka in topics:
            topic_admin.create_topics(variant_kafka)
        producer = make_producer(kafka, client_id="bench-waste")
        with (
            tempfile.TemporaryDirectory(prefix="bench-waste-") as workdir,
            _sandbox(fleet, Path(workdir)) as server,
        ):
            timeline = server.state.timeline
            regions = sorted({r.region for r in fleet.resources.values()})
            stores = [_store(f"sqlite:///{workdir}/store-{n}.db") for n in range(len(rules))]
            accounts = _connect(server, stores)
            variants = [
                _Variant(k, _collector(server, store, r))
                for r, store, k in zip(rules, stores, topics, strict=True)
            ]
            onboarding = datetime.fromtimestamp(int(timeline.clock.now()), tz=UTC)
            end = datetime.fromtimestamp(timeline.sandbox_time(fleet.end.timestamp()), UTC)
            step = timedelta(hours=poll_hours)
            total = int((end - onboarding) / step) + 1
            now = onboarding
            while now <= end:
                if polls % max(1, total // 10) == 0:
                    progress(
                        f"poll {polls + 1} of {total} (sandbox {now:%Y-%m-%d %H:%M}), "
                        f"{time.monotonic() - began:.0f} s"
                    )
                timeline.clock.advance(max(0.0, now.timestamp() - timeline.clock.now()))
                for variant in variants:
                    for account in accounts:
                        publisher = Publisher(producer, variant.kafka)
                        variant.collector.collect(
                            AccountJob(account, list(regions), now, publisher)
                        )
                polls += 1
                now += step
            shift = float(timeline.shift)
        producer.flush()
        records = [
            read_topic(get_settings().model_copy(update={"kafka": k}), WASTE_SPEC) for k in topics
        ]
    finally:
        if producer is not None:
            producer.close()
        for variant_kafka in topics:
            topic_admin.delete_topics(variant_kafka)
    scores = [score(fleet, r, shift, onboarding) for r in records]
    return WasteReport(
        scores[0],
        polls,
        poll_hours,
        time.monotonic() - began,
        scores[1] if baseline else None,
    )
