"""The stop executor against an AWS account: rails, dry-run, idempotency, audit."""

from __future__ import annotations

from kafka.errors import KafkaTimeoutError
from pydantic import BaseModel
from sqlalchemy import select

from actions.audit import BestEffortSink
from actions.registry import ACTIONS, customer_permissions
from spendsense.events import Event
from spendsense.store import get_aws_account, list_audit
from spendsense.store.models import StopDecision
from spendsense.topics import ACTIONS as ACTIONS_TOPIC
from tests.actions.conftest import REGION, Rig


def _tags(**tags: str) -> dict[str, object]:
    return {
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    }


def test_rails_never_stop_protected_asg_spot_instance_store_or_stop_protected(rig: Rig) -> None:
    tenant_of = {a.account_id: t for t, a in rig.accounts.items()}
    store_root = next(
        i
        for i in rig.sandbox.fleet.instances.values()
        if i.account_id in tenant_of
        and i.region == REGION
        and i.root_device_type == "instance-store"
    )
    expected = {
        ("acme", rig.run_instance(**_tags(**{"spendsense:protect": "true"}))): "protected",
        ("acme", rig.run_instance(**_tags(**{"aws:autoscaling:groupName": "web"}))): "asg",
        ("acme", rig.run_instance(InstanceMarketOptions={"MarketType": "spot"})): "spot",
        ("acme", rig.run_instance(DisableApiStop=True)): "stop-protection",
        (tenant_of[store_root.account_id], store_root.instance_id): "instance-store",
    }
    before = {i: rig.state(i, t) for t, i in expected}
    # whatever the policy: the auto-stop policy for real, a person, a dry run
    for (tenant, instance_id), rail in expected.items():
        for actor, dry_run in (
            ("policy:auto-stop", False),
            ("ops@example.test", False),
            ("policy:auto-stop", True),
        ):
            key = f"{tenant}/{actor}/{dry_run}/{instance_id}"
            outcome = rig.executor.stop(tenant, instance_id, actor, "idle", key, dry_run)
            assert (outcome.result, outcome.rail) == ("refused", rail), outcome
    assert {i: rig.state(i, t) for t, i in expected} == before
    assert set(before.values()) == {"running"}
    with rig.store.sessions() as session:
        entries = [*list_audit(session, "acme"), *list_audit(session, "globex")]
    assert len(entries) == 15
    assert {e.result for e in entries} == {"refused"}
    assert all(e.details["rail"] == expected[(e.tenant_id, e.instance_id or "")] for e in entries)
    assert len(rig.sink.records) == 15


def test_dry_run_changes_nothing_and_is_audited(rig: Rig) -> None:
    instance_id = rig.run_instance()
    outcome = rig.executor.stop(
        "acme", instance_id, "policy:auto-stop", "idle for 3 days", "acme/k1", dry_run=True
    )
    assert outcome.result == "dry-run"
    assert rig.state(instance_id) == "running"
    with rig.store.sessions() as session:
        (entry,) = list_audit(session, "acme")
    assert (entry.action, entry.result, entry.dry_run, entry.actor) == (
        "stop",
        "dry-run",
        True,
        "policy:auto-stop",
    )
    assert entry.reason == "idle for 3 days"
    assert entry.account_id == rig.accounts["acme"].account_id
    assert [r.result for r in rig.sink.records] == ["dry-run"]


def test_replayed_decision_after_manual_start_does_not_stop_again(rig: Rig) -> None:
    instance_id = rig.run_instance()
    first = rig.executor.stop("acme", instance_id, "policy:auto-stop", "idle", "acme/d1", False)
    assert first.result == "stopped"
    assert rig.state(instance_id) == "stopped"
    started = rig.executor.start("acme", instance_id, "ops@acme.test", "needed", "acme/s1")
    assert started.result == "started"
    assert rig.state(instance_id) == "running"

    again = rig.executor.stop("acme", instance_id, "policy:auto-stop", "idle", "acme/d1", False)
    assert (again.result, again.previous) == ("replayed", "stopped")
    assert rig.state(instance_id) == "running"
    with rig.store.sessions() as session:
        results = [e.result for e in list_audit(session, "acme")]
    assert results == ["started", "stopped"]


def test_pending_decision_resumed_after_a_person_started_the_instance(rig: Rig) -> None:
    """A worker died after recording the decision; a person stopped and started the
    instance meanwhile through SpendSense. The resumed decision must not stop it."""
    instance_id = rig.run_instance()
    with rig.store.sessions.begin() as session:
        session.add(
            StopDecision(
                decision_key="acme/d2",
                tenant_id="acme",
                instance_id=instance_id,
                action="stop",
                actor="policy:auto-stop",
                reason="idle",
                status="pending",
            )
        )
    assert (
        rig.executor.stop("acme", instance_id, "ops@acme.test", "x", "acme/m1", False).result
        == "stopped"
    )
    assert (
        rig.executor.start("acme", instance_id, "ops@acme.test", "x", "acme/m2").result == "started"
    )
    resumed = rig.executor.stop("acme", instance_id, "policy:auto-stop", "idle", "acme/d2", False)
    assert resumed.result == "skipped"
    assert "started again" in resumed.message
    assert rig.state(instance_id) == "running"


def test_cap_per_hour_limits_policy_stops_but_not_people(rig: Rig) -> None:
    ids = [rig.run_instance() for _ in range(3)]
    with rig.store.sessions.begin() as session:  # another worker is stopping one right now
        session.add(
            StopDecision(
                decision_key="acme/elsewhere",
                tenant_id="acme",
                instance_id="i-0fe11bb22cc33dd44",
                action="stop",
                actor="policy:auto-stop",
                decided_at=rig.clock(),
                status="pending",
            )
        )
    results = [
        rig.executor.stop(
            "acme", i, "policy:auto-stop", "idle", f"acme/c{n}", False, max_per_hour=3
        ).result
        for n, i in enumerate(ids)
    ]
    assert results == ["stopped", "stopped", "skipped"]
    assert rig.state(ids[2]) == "running"
    assert (
        rig.executor.stop("acme", ids[2], "ops@acme.test", "manual", "acme/p", False).result
        == "stopped"
    )


def test_another_tenants_instance_is_not_found_and_not_stopped(rig: Rig) -> None:
    theirs = rig.run_instance("globex")
    outcome = rig.executor.stop("acme", theirs, "ops@acme.test", "x", "acme/x", False)
    assert outcome.result == "failed"
    assert rig.state(theirs, "globex") == "running"
    with rig.store.sessions() as session:
        row = session.scalar(select(StopDecision).where(StopDecision.decision_key == "acme/x"))
    assert row is not None and row.status == "failed"


def test_stops_go_through_the_tenants_role_with_its_external_id(rig: Rig) -> None:
    """With the wrong ExternalId in the store, AssumeRole is refused: nothing is stopped."""
    instance_id = rig.run_instance()
    with rig.store.sessions.begin() as session:
        account = get_aws_account(session, "acme", rig.accounts["acme"].account_id)
        assert account is not None
        account.external_id = "not-the-external-id-the-role-trusts"
    outcome = rig.executor.stop("acme", instance_id, "ops@acme.test", "x", "acme/e1", False)
    assert outcome.result == "failed"
    assert "ExternalId" in outcome.message
    assert rig.state(instance_id) == "running"


def test_every_action_is_registered_with_its_permissions_and_schema() -> None:
    assert sorted(ACTIONS) == ["email", "stop", "tag"]
    for name, plugin in ACTIONS.items():
        assert plugin.name == name and plugin.permissions, name
        assert issubclass(plugin.Params, BaseModel)
        assert all(p.split(":")[0] in {"ec2", "ses"} for p in plugin.permissions)
    # what the customer's role must allow: everything run in their account, no SES
    assert "ses:SendRawEmail" not in customer_permissions()
    assert {"ec2:StopInstances", "ec2:CreateTags", "ec2:DescribeInstances"} <= set(
        customer_permissions()
    )


def test_a_broker_outage_costs_the_feed_an_event_not_the_action(rig: Rig) -> None:
    """The worker publishes best effort: the stop and its audit entry stand."""

    class BrokerDown:
        def send(self, topic: str, record: Event) -> None:
            raise KafkaTimeoutError("no broker")

    errors: list[str] = []
    rig.executor.sink = BestEffortSink(BrokerDown(), errors.append)
    instance_id = rig.run_instance()
    outcome = rig.executor.stop("acme", instance_id, "ops@acme.test", "x", "acme/b1", False)
    assert outcome.result == "stopped"
    assert errors == [ACTIONS_TOPIC]
    with rig.store.sessions() as session:
        assert [e.result for e in list_audit(session, "acme")] == ["stopped"]
