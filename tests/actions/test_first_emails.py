"""A new customer's first alert emails, end to end on the real pipeline.

A fresh local stack (:class:`devstack.demo.LocalStack` in the chaos run's isolated
environment: its own broker, sandbox, store and ports under ``tmp_path``) serves a small
trace fleet of chosen kinds: weekly jobs and nightly batches (quiet most of the time, never
idle) and instances idle at their agents' rest level (since launch, or after a busy period).
The customers connect their accounts as ``spendsense demo`` onboards them; the collectors
backfill the sandbox's 14 days of history, the detector scores them, the actions worker mails
the digests through the sandbox's SES. What a customer reads first must be right: no email
names an instance that was not idle (the fleet's labels, in sandbox time) when it was sent,
and every agent-idle instance that was idle long enough before the live edge is in one.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from actions.app import APP_ID as ACTIONS_APP_ID
from devstack.broker import BrokerPaths, ensure_jars
from devstack.chaos.checks import read_topic
from devstack.chaos.driver import environment
from devstack.chaos.environment import chaos_environment
from devstack.demo import LocalStack
from sandbox import control
from sandbox.fleet import Fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.workloads import AGENT_KINDS, KINDS
from sandbox.mail import SentMail, sent_messages
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import Settings, get_settings
from spendsense.store import open_store
from spendsense.store.models.ingest import MetricCursor
from spendsense.topics import DETECTIONS, DETECTIONS_SPEC, METRICS, topic_name

pytestmark = [pytest.mark.slow]

MIX = {"weekly-job": 2, "nightly-batch": 2, **dict.fromkeys(AGENT_KINDS, 2)}
"""The fleet: how many instances of each kind (the first ones of a seeded fleet)."""
SEED = 5
COOLDOWN_S = 15
WEEK_S = 7 * 86_400
MARGIN_S = 3_600
"""Kept from every boundary the expectations draw (collection starts a period or two late)."""
INSTANCE_ID = re.compile(r"\bi-[0-9a-f]{17}\b")
TIMEOUT_S = 360
"""From the stack's start; the actions worker reads the backfill's detections at ~300 a second."""


def onboarding_fleet() -> Fleet:
    """The first instances of each of MIX's kinds in a seeded 16-day fleet (14 days of history,
    two tenants)."""
    whole = generate_fleet(
        FleetSpec(seed=SEED, instances=4 * len(KINDS), days=16, tenants=2, history_days=14)
    )
    picked = [
        iid
        for kind, count in MIX.items()
        for iid in [i for i, inst in whole.instances.items() if inst.kind == kind][:count]
    ]
    fleet = Fleet(
        None,
        {i: whole.instances[i] for i in picked},
        {i: whole.traces[i] for i in picked},
        {i: whole.labels[i] for i in picked},
    )
    assert len(fleet.instances) == sum(MIX.values()) and fleet.start == whole.start
    return fleet


@dataclass(frozen=True)
class Customer:
    """The running stack's settings, its fleet, and the fleet's labels and start in sandbox time."""

    settings: Settings
    fleet: Fleet
    labels: dict[str, float | None]
    shift: float
    started: float

    @property
    def endpoint(self) -> str:
        return self.settings.aws.endpoint_url or ""

    def due_an_email(self) -> set[str]:
        """Agent-idle instances idle by label before the live edge of the backfill, with a week of
        history before their idleness or a week of idleness by then: an alertable verdict is
        possible at the live edge, so the first digests must name them."""
        edge = self.started - self.settings.detector.live_edge_s
        due = set()
        for iid, inst in self.fleet.instances.items():
            since = self.labels[iid]
            if inst.kind not in AGENT_KINDS or since is None or since > edge - MARGIN_S:
                continue
            first = self.fleet.traces[iid].start.timestamp() + self.shift
            if since - first >= WEEK_S + MARGIN_S or edge - since >= WEEK_S + MARGIN_S:
                due.add(iid)
        return due

    def caught_up(self) -> bool:
        """Whether the pipeline has done the backfill: every instance collected up to the
        present, every metric read by the detector and every detection by the actions worker."""
        now = datetime.fromtimestamp(control.clock(self.endpoint)["now"], tz=UTC)
        recent = now - timedelta(seconds=self.settings.ingest.settle_s + 1_800)
        store = open_store(self.settings.store, migrate=False)
        try:
            with store.sessions() as db:
                cursors = {c.instance_id: c.cursor_at for c in db.scalars(select(MetricCursor))}
        finally:
            store.dispose()
        if set(cursors) < set(self.fleet.instances) or min(cursors.values()) < recent:
            return False
        prefix = self.settings.kafka.topic_prefix
        return (
            unread(self.settings, prefix + self.settings.detector.app_id, METRICS) == 0
            and unread(self.settings, prefix + ACTIONS_APP_ID, DETECTIONS) == 0
        )

    def idle_reasons(self, instance_id: str) -> list[str]:
        """The detector's reasons for its idle verdicts on one instance (for failure messages)."""
        return sorted(
            {
                d.reason
                for d in read_topic(self.settings, DETECTIONS_SPEC)
                if d.instance_id == instance_id and d.idle
            }
        )


def unread(settings: Settings, group: str, short: str) -> int:
    """Records of one of the project's topics that a consumer group has not committed yet."""
    consumer = KafkaConsumer(
        **kafka_python_config(settings.kafka, group_id=group, enable_auto_commit=False)
    )
    try:  # a consumer of the group that never subscribes: it only reads the group's offsets
        topic = topic_name(settings.kafka, short)
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        return sum(end - (consumer.committed(tp) or 0) for tp, end in ends.items())
    finally:
        consumer.close()


def named(message: SentMail, fleet: Fleet) -> set[str]:
    """The fleet's instances an email names."""
    return {i for i in INSTANCE_ID.findall(message.text or "") if i in fleet.instances}


def mailed(mail: list[SentMail], fleet: Fleet) -> set[str]:
    """The fleet's instances any of the emails names."""
    return set().union(*(named(m, fleet) for m in mail))


@pytest.fixture
def new_customer(tmp_path: Path) -> Iterator[Customer]:
    """A fresh isolated stack on the onboarding fleet, its demo customers connected."""
    base = get_settings()
    ensure_jars(BrokerPaths(base.kafka.home))  # the stack's broker links the project's jars
    var = tmp_path / "stack"
    env = chaos_environment(base, var, speed=1.0, cooldown_s=COOLDOWN_S)
    env["SPENDSENSE_INGEST__BACKFILL_DAYS"] = "14"  # the sandbox's whole history
    fleet = onboarding_fleet()
    fleet_dir = Path(env["SPENDSENSE_SANDBOX__FLEET_DIR"])
    write_fleet(fleet, fleet_dir)
    saved_env, saved_sigterm = os.environ.copy(), signal.getsignal(signal.SIGTERM)
    log_path = var / "processes.log"
    try:
        with environment(env), log_path.open("a") as log:
            stack = LocalStack(fleet_dir=fleet_dir, speed=1.0, out=log)
            try:
                stack.start()
                url = stack.settings.aws.endpoint_url or ""
                yield Customer(
                    stack.settings,
                    fleet,
                    control.fleet_labels(url),
                    control.fleet_shift(url),
                    control.clock(url)["start"],
                )
            except BaseException:
                print(log_path.read_text()[-6_000:])
                raise
            finally:
                stack.stop()
    finally:  # LocalStack sets the demo's AWS variables and a SIGTERM handler of its own
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()
        signal.signal(signal.SIGTERM, saved_sigterm)


def wait_for_first_emails(customer: Customer, due: set[str]) -> list[SentMail]:
    """The mail once every due instance is in a digest and the backfill has gone through the
    pipeline, after one more cooldown (any alert still pending then has been sent)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        mail = sent_messages(customer.endpoint)
        missing = due - mailed(mail, customer.fleet)
        if not missing and customer.caught_up():
            break
        assert time.monotonic() < deadline, (
            f"after {TIMEOUT_S}s: {len(mail)} emails; never mailed: {sorted(missing)}"
        )
        time.sleep(3)
    time.sleep(COOLDOWN_S + 2 * customer.settings.actions.flush_interval_s)
    return sent_messages(customer.endpoint)


def test_the_first_emails_of_a_new_customer_name_only_idle_instances_and_all_agent_idle_ones(
    new_customer: Customer,
) -> None:
    customer = new_customer
    due = customer.due_an_email()
    kinds = {customer.fleet.instances[i].kind for i in due}
    assert len(due) >= 3 and len(kinds) >= 2, f"the fleet gives too few instances to check: {due}"

    mail = wait_for_first_emails(customer, due)

    wrong = [
        f"{iid} ({customer.fleet.instances[iid].kind}, idle since "
        f"{customer.labels[iid] or 'never'}) in an email sent at {m.sent_at:.0f}: "
        f"{customer.idle_reasons(iid)}"
        for m in mail
        for iid in sorted(named(m, customer.fleet))
        if (since := customer.labels[iid]) is None or since > m.sent_at
    ]
    assert not wrong, "\n".join(wrong)
    assert due <= mailed(mail, customer.fleet)
    recipients = {to for m in mail for to in m.to}
    assert recipients <= {"demo@spendsense.example", "demo2@spendsense.example"}
