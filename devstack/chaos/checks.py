"""What a chaos run must leave true, checked against the broker, the store and the sandbox.

Each check returns a :class:`Check`: its name, a one-line summary with figures, and the
breaches found (empty: it held). The data comes from where it really lives: the
``metrics`` and ``detections`` topics, the store's cursors and audit log, and the
sandbox AWS account (its CloudWatch, SES mailbox and call counts).

>>> Check("demo", "3 things looked at").ok
True
>>> print(Check("demo", "x", ["one", "two"]).render())
FAIL demo: x
     - one
     - two
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from ingest.cloudwatch import metric_query
from sandbox import control
from sandbox.fleet import Fleet
from sandbox.mail import sent_messages
from spendsense.access import AccountRef, TenantSessions
from spendsense.aws import AwsFactory
from spendsense.errors import PoisonRecord
from spendsense.events import ActionRecord, DetectionRecord, Event, MetricPollRecord
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import Settings
from spendsense.store import Store
from spendsense.store.models import AuditEntry, AwsAccount, Tenant
from spendsense.store.models.ingest import MetricCursor
from spendsense.topics import TopicSpec, topic_name

MAX_SHOWN = 8
PERIOD = timedelta(minutes=5)


@dataclass
class Check:
    """One property of the run and what broke it."""

    name: str
    summary: str
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def render(self) -> str:
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.summary}"
        shown = [f"     - {b}" for b in self.breaches[:MAX_SHOWN]]
        if len(self.breaches) > MAX_SHOWN:
            shown.append(f"     ... and {len(self.breaches) - MAX_SHOWN} more")
        return "\n".join([head, *shown])


E = TypeVar("E", bound=Event)


def read_topic(settings: Settings, spec: TopicSpec[E]) -> list[E]:
    """Every record on one of the project's topics, from start to end now, parsed as its
    spec says."""
    consumer = KafkaConsumer(
        **kafka_python_config(settings.kafka, group_id=None, enable_auto_commit=False)
    )
    try:
        topic = topic_name(settings.kafka, spec.name)
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[E] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000).values():
                for msg in batch:
                    try:
                        out.append(spec.parse(msg.value))
                    except PoisonRecord:
                        continue  # not the pipeline's record: the consumers dead-letter it
        return out
    finally:
        consumer.close()


def _stamp(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def cloudwatch_periods(
    settings: Settings, store: Store, since: datetime
) -> dict[tuple[str, str], set[datetime]]:
    """Per (tenant, instance): the periods with a CPU point in the sandbox's CloudWatch,
    from ``since`` up to (not including) the instance's collected cursor, gaps left out."""
    with store.sessions() as db:
        cursors = list(db.scalars(select(MetricCursor)))
        accounts = {
            (a.tenant_id, a.account_id): AccountRef.of(a) for a in db.scalars(select(AwsAccount))
        }
    sessions = TenantSessions(AwsFactory(settings.aws))
    groups: dict[tuple[str, str, str], list[MetricCursor]] = defaultdict(list)
    for row in cursors:
        groups[(row.tenant_id, row.account_id, row.region)].append(row)
    out: dict[tuple[str, str], set[datetime]] = {}
    for (tenant, account_id, region), rows in groups.items():
        cw = sessions.client(accounts[(tenant, account_id)], "cloudwatch", region)
        end = max(_stamp(r.cursor_at) for r in rows)
        for chunk in range(0, len(rows), 400):
            part = rows[chunk : chunk + 400]
            queries = [
                metric_query(f"q{n}", r.instance_id, "CPUUtilization") for n, r in enumerate(part)
            ]
            found: dict[str, set[datetime]] = defaultdict(set)
            token: str | None = None
            while True:
                extra = {"NextToken": token} if token else {}
                resp = cw.get_metric_data(
                    MetricDataQueries=queries, StartTime=since, EndTime=end, **extra
                )
                for res in resp["MetricDataResults"]:
                    found[res["Id"]].update(_stamp(t) for t in res["Timestamps"])
                token = resp.get("NextToken")
                if not token:
                    break
            for n, row in enumerate(part):
                gaps = {_stamp(g) for g in row.gaps or []}
                cursor = _stamp(row.cursor_at)
                out[(tenant, row.instance_id)] = {
                    t for t in found[f"q{n}"] if since <= t < cursor and t not in gaps
                }
    return out


def check_metrics(
    published: list[MetricPollRecord],
    detections: list[DetectionRecord],
    sandbox: dict[tuple[str, str], set[datetime]],
) -> list[Check]:
    """Every CloudWatch (instance, period) published exactly once and scored at least once
    (periods counted, whichever wire shape carried them)."""
    counts = Counter(
        (m.tenant_id, m.instance_id, _stamp(p.timestamp)) for m in published for p in m.periods
    )
    dupes = [
        f"{i} {t:%Y-%m-%dT%H:%M}Z published {n} times" for (_, i, t), n in counts.items() if n > 1
    ]
    scored = {(d.tenant_id, d.instance_id, _stamp(d.timestamp)) for d in detections}
    want = {(tenant, iid, t) for (tenant, iid), ts in sandbox.items() for t in ts}
    missing = sorted(want - set(counts))
    unscored = sorted(k for k in want & set(counts) if k not in scored)
    return [
        Check(
            "metrics exactly once",
            f"{len(want)} (instance, period) in CloudWatch for {len(sandbox)} instances; "
            f"{counts.total()} periods in {len(published)} records on metrics, "
            f"{len(dupes)} duplicated, {len(missing)} missing",
            dupes + [f"{i} {t:%Y-%m-%dT%H:%M}Z never published" for _, i, t in missing],
        ),
        Check(
            "every period scored",
            f"{len(detections)} detections; {len(unscored)} published periods never scored",
            [f"{i} {t:%Y-%m-%dT%H:%M}Z not scored" for _, i, t in unscored],
        ),
    ]


def check_mail(settings: Settings, speed: float) -> Check:
    """No recipient got two alert emails inside the cooldown (sandbox time / speed = wall time)."""
    messages = sent_messages(settings.aws.endpoint_url or settings.sandbox.url)
    by_recipient: dict[str, list[float]] = defaultdict(list)
    for m in messages:
        for to in m.to:
            by_recipient[to].append(m.sent_at)
    cooldown = settings.actions.cooldown_s
    breaches = []
    for to, times in by_recipient.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            wall = (b - a) / speed
            if wall < cooldown * 0.95:
                breaches.append(f"{to}: two emails {wall:.0f}s apart (cooldown {cooldown}s)")
    return Check(
        "no email twice inside the cooldown",
        f"{len(messages)} emails to {len(by_recipient)} recipients, cooldown {cooldown}s",
        breaches,
    )


def _refusal(fleet: Fleet, instance_id: str, protect_tag: str) -> str | None:
    inst = fleet.instances.get(instance_id)
    if inst is None:
        return None
    if inst.root_device_type == "instance-store":
        return "instance-store root"
    if inst.lifecycle == "spot":
        return "spot instance"
    if inst.asg_name:
        return f"member of auto scaling group {inst.asg_name}"
    if protect_tag in inst.tags:
        return f"tagged {protect_tag}"
    return None


def check_stops(settings: Settings, store: Store, fleet: Fleet) -> list[Check]:
    """No instance stopped twice or against policy; every stop the sandbox saw is audited."""
    with store.sessions() as db:
        entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        tenants = {t.id: t for t in db.scalars(select(Tenant))}
        db.expunge_all()
    stops = [e for e in entries if e.action == "stop" and e.result == "stopped"]
    breaches = []
    last: dict[str, str] = {}
    for e in entries:
        if e.instance_id is None or e.result not in {"stopped", "started"}:
            continue
        if e.result == "stopped" and last.get(e.instance_id) == "stopped":
            breaches.append(f"{e.instance_id} stopped twice (audit #{e.id})")
        last[e.instance_id] = e.result
    for e in stops:
        why = _refusal(fleet, e.instance_id or "", settings.actions.protect_tag)
        if why:
            breaches.append(f"{e.instance_id} stopped although {why} (audit #{e.id})")
        tenant = tenants.get(e.tenant_id)
        automatic = e.actor.startswith("policy")
        if automatic and (tenant is None or not tenant.autostop_enabled or tenant.autostop_dry_run):
            breaches.append(f"{e.instance_id} auto-stopped while its tenant's auto-stop is off")
    calls = control.calls(settings.aws.endpoint_url or settings.sandbox.url)
    accounts = {(e.account_id or "") for e in stops}
    sandbox_stops: Counter[str] = Counter()
    for row in calls:
        if row["operation"] == "StopInstances":
            sandbox_stops[row["account"]] += row["count"] - row.get("faulted", 0)
    audited = Counter(e.account_id or "" for e in stops)
    audit_breaches = [
        f"account {acct}: {n} StopInstances answered by EC2, {audited[acct]} stops audited"
        for acct, n in sandbox_stops.items()
        if n > audited[acct]
    ]
    return [
        Check(
            "no instance stopped twice or against policy",
            f"{len(stops)} stops in the audit log over {len(accounts)} accounts",
            breaches,
        ),
        Check(
            "every stop the sandbox answered is audited",
            f"{sum(sandbox_stops.values())} StopInstances answered",
            audit_breaches,
        ),
    ]


def check_audit(store: Store, actions: list[ActionRecord], emails: int) -> Check:
    """Every record on ``actions`` and every email SES accepted has its audit entry."""
    with store.sessions() as db:
        entries = list(db.scalars(select(AuditEntry)))
    audited = Counter((e.tenant_id, e.action, e.instance_id, e.result) for e in entries)
    published = Counter((a.tenant_id, a.action, a.instance_id, a.result) for a in actions)
    breaches = [
        f"{k[1]} {k[3]} of {k[2] or k[0]}: {n} on the actions topic, {audited[k]} audited"
        for k, n in published.items()
        if audited[k] < 1
    ]
    sent = sum(n for k, n in audited.items() if k[1] == "email" and k[3] == "sent")
    if emails > sent:
        breaches.append(f"{emails} emails accepted by SES, {sent} audited as sent")
    return Check(
        "every action is in the audit log",
        f"{len(entries)} audit entries, {len(actions)} action records, {emails} emails",
        breaches,
    )


def summarize(checks: Iterable[Check]) -> tuple[str, bool]:
    """The printed report and whether every check held."""
    items = list(checks)
    return "\n".join(c.render() for c in items), all(c.ok for c in items)


def run_window_start(started: datetime, backfill_days: float) -> datetime:
    """The first period certainly inside what the collector backfilled (a period of margin)."""
    first = started - timedelta(days=backfill_days) + 2 * PERIOD
    return first.replace(minute=first.minute - first.minute % 5, second=0, microsecond=0)
