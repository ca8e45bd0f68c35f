"""The scheduler in the sandbox AWS account, its clock advanced through a week that holds
New York's spring-forward change: exactly the stops and starts expected, rails and dry-run
respected, a manual start in an off period left alone, and a restart acting no twice.

The suite runs a sandbox of its own: its clock moves three months ahead, which the
session's shared sandbox (and the live points other suites expect from it) must not see.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from actions.digest import tenant_digest
from actions.metrics import ActionsMetrics
from actions.schedules.scheduler import Scheduler
from actions.schedules.targets import next_actions
from actions.stopping import StopExecutor
from spendsense.access import TenantSessions
from spendsense.aws import AwsFactory
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ActionsSettings
from spendsense.store import Store, get_tenant, list_audit
from spendsense.store.models import InstanceView
from spendsense.store.models.schedules import Schedule, ScheduleAssignment, ScheduleState
from tests.actions.conftest import KEY, REGION, ROLE_NAME, ListSink, TenantAccount, make_store
from tests.fixtures.sandbox import Sandbox, serve_sandbox

OFFICE = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "19:00"}]
WEEK_START = datetime(2027, 3, 10, 5, tzinfo=UTC)  # Wednesday 00:00 EST; DST begins Sunday 14th


def described_in_ticks(worker: Scheduler, sandbox: Sandbox, ticks: int) -> list[str]:
    """The instances ``worker`` describes in ``ticks`` ticks a minute apart (none acts)."""
    described: list[str] = []
    real = worker.executor.describe

    def spy(tenant_id: str, instance_id: str, **kw: Any) -> Any:
        described.append(instance_id)
        return real(tenant_id, instance_id, **kw)

    worker.executor.describe = spy  # type: ignore[method-assign]
    try:
        for _ in range(ticks):
            sandbox.advance_clock(60)
            assert worker.tick() == []
    finally:
        worker.executor.describe = real  # type: ignore[method-assign]
    return described


def utc(day: int, hour: int) -> datetime:
    return datetime(2027, 3, day, hour, tzinfo=UTC) if hour < 24 else utc(day + 1, hour - 24)


@pytest.fixture(scope="module")
def week_sandbox(sandbox_fleet_dir: Path) -> Iterator[Sandbox]:
    with serve_sandbox(sandbox_fleet_dir) as served:
        yield served


@pytest.fixture
def acme(week_sandbox: Sandbox, postgres_url: str) -> Iterator[tuple[TenantAccount, Store]]:
    account_id = week_sandbox.tenant_account_ids[0]
    arn, external_id = week_sandbox.create_role(account_id, role_name=ROLE_NAME)
    account = TenantAccount("acme", account_id, arn, external_id)
    store = make_store(postgres_url, {"acme": account}, "ops@acme.test")
    yield account, store
    store.dispose()


def test_a_week_of_office_hours_across_a_dst_change(
    week_sandbox: Sandbox, acme: tuple[TenantAccount, Store]
) -> None:
    account, store = acme
    sandbox = week_sandbox
    ec2 = sandbox.assume(account.role_arn, account.external_id, REGION).client(
        "ec2", endpoint_url=sandbox.endpoint_url
    )

    def launch(**tags: str) -> str:
        spec = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
        resp = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            **({"TagSpecifications": spec} if tags else {}),
        )
        return str(resp["Instances"][0]["InstanceId"])

    def state(instance_id: str) -> str:
        resp = ec2.describe_instances(InstanceIds=[instance_id])
        return str(resp["Reservations"][0]["Instances"][0]["State"]["Name"])

    chosen, tagged, protected, rehearsed = (
        launch(),
        launch(**{"spendsense:schedule": "office"}),
        launch(**{"spendsense:protect": "yes"}),
        launch(),
    )
    with store.sessions.begin() as session:
        session.add(
            Schedule(tenant_id="acme", name="office", time_zone="America/New_York", periods=OFFICE)
        )
        session.add(
            Schedule(
                tenant_id="acme",
                name="rehearsal",
                time_zone="America/New_York",
                periods=OFFICE,
                dry_run=True,
            )
        )
        for iid, name in ((chosen, "office"), (protected, "office"), (rehearsed, "rehearsal")):
            session.add(
                ScheduleAssignment(
                    tenant_id="acme",
                    instance_id=iid,
                    schedule_name=name,
                    account_id=account.account_id,
                    region=REGION,
                )
            )
        # the tagged one is known from the inventory, as the projector writes it
        session.add(
            InstanceView(
                tenant_id="acme",
                instance_id=tagged,
                account_id=account.account_id,
                region=REGION,
                state="running",
                tags={"spendsense:schedule": "office"},
            )
        )

    def clock() -> datetime:
        return datetime.fromtimestamp(sandbox.now(), UTC)

    def scheduler() -> Scheduler:
        executor = StopExecutor(
            ActionsSettings(link_signing_key=KEY),  # type: ignore[arg-type]
            store.sessions,
            TenantSessions(AwsFactory(sandbox.aws_settings())),
            ListSink(),
            ActionsMetrics(CollectorRegistry()),
            clock=clock,
        )
        return Scheduler(store.sessions, executor, clock)

    sandbox.advance_clock((WEEK_START - clock()).total_seconds() + 60)  # 00:01 EST on Wednesday
    worker = scheduler()
    done: list[tuple[datetime, str, str, str]] = []
    names = {chosen: "chosen", tagged: "tagged", protected: "protected", rehearsed: "rehearsed"}
    for hour in range(7 * 24):
        now = clock()
        for outcome in worker.tick():
            hour_of = now.replace(minute=0, second=0, microsecond=0)
            action = "start" if outcome.decision_key.split("/")[3] == "start" else "stop"
            done.append((hour_of, names[outcome.instance_id], action, outcome.result))
        if hour == 10:  # Wednesday 15:01 UTC, 10:01 EST: in the period
            with store.sessions() as session:
                plan = {a.instance_id: a for a in next_actions(session, "acme", clock())}
            assert (plan[chosen].action, plan[chosen].at) == ("stop", utc(11, 0))
        if hour == 3:  # stopped overnight, checked by this hour's tick: 12 ticks a minute
            # apart describe each once more (at 10 minutes), not 12 times
            assert sorted(described_in_ticks(worker, sandbox, 12)) == sorted([chosen, tagged])
        if hour == 21:  # Thursday 02:01 UTC, after our stop: the owner starts it by hand
            ec2.start_instances(InstanceIds=[chosen])
        if hour == 23:
            with store.sessions() as session:
                plan = {a.instance_id: a for a in next_actions(session, "acme", clock())}
            assert plan[chosen].override_until == utc(11, 13)
            assert plan[tagged].override_until is None
        sandbox.advance_clock(3600)

    # Wednesday to Friday 08:00-19:00 EST is 13:00-00:00 UTC; Monday and Tuesday, in EDT,
    # 12:00-23:00 UTC
    on = [(utc(d, 13), utc(d, 24)) for d in (10, 11, 12)] + [
        (utc(d, 12), utc(d, 23)) for d in (15, 16)
    ]
    expected = []
    for who in ("chosen", "tagged"):
        expected.append((utc(10, 5), who, "stop", "stopped"))
        for start, stop in on:
            running = who == "chosen" and start == utc(11, 13)  # started by hand overnight
            expected.append((start, who, "start", "skipped" if running else "started"))
            expected.append((stop, who, "stop", "stopped"))
    for when, what in [(utc(10, 5), "stop")] + [
        (t, a) for start, stop in on for t, a in ((start, "start"), (stop, "stop"))
    ]:
        expected.append((when, "protected", what, "refused"))
        expected.append((when, "rehearsed", what, "dry-run"))
    assert sorted(done) == sorted(expected)
    # the manual start was respected: the chosen one ran through Thursday night
    assert not [d for d in done if d[1] == "chosen" and utc(11, 1) <= d[0] < utc(11, 13)]
    assert (state(chosen), state(tagged), state(protected), state(rehearsed)) == (
        "stopped",
        "stopped",
        "running",
        "running",
    )
    with store.sessions() as session:
        audit = [e for e in list_audit(session, "acme", limit=500) if e.instance_id == rehearsed]
    assert {(e.actor, e.result, e.dry_run) for e in audit} == {
        ("schedule:rehearsal", "dry-run", True)
    }

    # a worker restarted with its memory lost acts no twice: the decision keys hold
    with store.sessions.begin() as session:
        session.execute(delete(ScheduleState))
    again = scheduler().tick()
    assert {o.result for o in again} == {"replayed"}
    assert (state(chosen), state(tagged)) == ("stopped", "stopped")

    # an instance that is gone: the failure is retried each tick and told in the digest
    with store.sessions.begin() as session:
        session.add(
            ScheduleAssignment(
                tenant_id="acme",
                instance_id="i-0000000000000dead",
                schedule_name="office",
                account_id=account.account_id,
                region=REGION,
            )
        )
    (failed,) = [o for o in scheduler().tick() if o.instance_id == "i-0000000000000dead"]
    assert failed.result == "failed"
    with store.sessions() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        digest = tenant_digest(
            ActionsSettings(link_signing_key=KEY), KEY.encode(), tenant, [], [], clock()
        )  # type: ignore[arg-type]
    assert "Off-hours schedules that could not act" in digest.text
    assert "i-0000000000000dead: schedule office could not stop it" in digest.text
    assert "i-0000000000000dead" in digest.html
