"""Actions on wasted resources in the sandbox account, through the tenant's role: each kind's
action works, the protect tag refuses, a repeat does nothing twice, an irreversible one
needs its typed confirmation, and a policy runs only what it may (dry-run first, capped)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from actions.waste_actions import WASTE_ACTIONS, find_action, plugins
from actions.waste_executor import WasteExecutor, WasteOutcome, WasteRequest
from spendsense.access import TenantSessions
from spendsense.events import WasteRecord
from spendsense.resources.kinds.ebs_snapshot import BACKUP_TAG, _facts
from spendsense.resources.registry import OK, WasteRules, load_kinds
from spendsense.store.models import AuditEntry, Tenant
from spendsense.store.models.waste import WasteDecision
from tests.actions.conftest import REGION, Rig
from tests.fixtures.sandbox import create_database

PROTECT = "spendsense:protect"


@pytest.fixture
def executor(rig: Rig) -> WasteExecutor:
    return WasteExecutor(
        rig.settings, rig.store.sessions, TenantSessions(rig.factory), rig.sink, clock=rig.clock
    )


def client(rig: Rig, service: str, tenant: str = "acme", region: str = REGION) -> Any:
    """A client inside the tenant's account (as its owner would act)."""
    acc = rig.accounts[tenant]
    session = rig.sandbox.assume(acc.role_arn, acc.external_id, region)
    return session.client(service, endpoint_url=rig.sandbox.endpoint_url)


def act(
    rig: Rig, executor: WasteExecutor, kind: str, resource_id: str, action: str, **kw: Any
) -> WasteOutcome:
    fields: dict[str, Any] = {
        "tenant_id": "acme",
        "kind": kind,
        "resource_id": resource_id,
        "action": action,
        "actor": "ops@acme.test",
        "decision_key": f"acme/test/{kind}/{resource_id}/{action}",
        "account_id": rig.accounts["acme"].account_id,
        "region": REGION,
    }
    return executor.act(WasteRequest(**(fields | kw)))


def audit_of(rig: Rig, resource_id: str) -> list[AuditEntry]:
    with rig.store.sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [e for e in entries if (e.details or {}).get("resource_id") == resource_id]


def volume(ec2: Any, tags: dict[str, str] | None = None) -> str:
    spec = [
        {
            "ResourceType": "volume",
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        }
    ]
    resp = ec2.create_volume(
        AvailabilityZone=f"{REGION}a",
        Size=50,
        VolumeType="gp3",
        TagSpecifications=spec if tags else [],
    )
    return str(resp["VolumeId"])


def test_every_action_is_one_the_kind_declares_and_none_is_weaker() -> None:
    declared = {(name, a.name) for name, kind in load_kinds().items() for a in kind.actions}
    assert {(p.kind, p.action) for p in plugins()} == declared
    for p in plugins():
        assert p.confirm or not p.declared().confirm, p  # never weaker than declared
        assert not (p.confirm and p.policy), p  # a typed confirmation is never a policy's
        assert set(p.declared().permissions) <= set(p.permissions())
    assert sorted(n for n in WASTE_ACTIONS if WASTE_ACTIONS[n].policy) == [
        "ebs-volume-snapshot-then-delete",
        "rds-instance-stop",
    ]


def test_volume_snapshot_completes_before_delete_and_the_audit_keeps_its_id(
    rig: Rig, executor: WasteExecutor
) -> None:
    ec2 = rig.ec2()
    vol = volume(ec2, {"team": "data"})
    done = act(rig, executor, "ebs-volume", vol, "snapshot-then-delete")
    assert done.result == "deleted", done.message
    snapshot_id = done.details["snapshot_id"]
    (snap,) = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert snap["State"] == "completed" and snap["VolumeId"] == vol
    assert {"Key": BACKUP_TAG, "Value": vol} in snap["Tags"]
    # the backup it leaves is the customer's, never judged waste, even past any retention
    backup = _facts(snap, volume_exists=False, ami_ids=[], region=REGION)
    years_on = snap["StartTime"] + timedelta(days=3650)
    assert load_kinds()["ebs-snapshot"].judge(backup, None, years_on, WasteRules()) == OK
    assert vol not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    (entry,) = audit_of(rig, vol)
    assert (entry.action, entry.result, entry.details["snapshot_id"]) == (
        "ebs-volume:snapshot-then-delete",
        "deleted",
        snapshot_id,
    )
    assert rig.sink.records[-1].action == "ebs-volume:snapshot-then-delete"

    # the same decision again: nothing is done twice, the first result comes back
    again = act(rig, executor, "ebs-volume", vol, "snapshot-then-delete")
    assert (again.result, again.previous, again.details["snapshot_id"]) == (
        "replayed",
        "deleted",
        snapshot_id,
    )
    mine = [
        s for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["VolumeId"] == vol
    ]
    assert len(mine) == 1 and len(audit_of(rig, vol)) == 1


def test_a_protected_resource_is_refused_until_its_tag_is_gone(
    rig: Rig, executor: WasteExecutor
) -> None:
    ec2 = rig.ec2()
    vol = volume(ec2, {PROTECT: "yes"})
    refused = act(rig, executor, "ebs-volume", vol, "snapshot-then-delete")
    assert refused.result == "refused" and PROTECT in refused.message
    assert ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"] == "available"
    assert not [
        s for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["VolumeId"] == vol
    ]
    # a refusal is not final: once the owner removes the tag, the same request acts
    ec2.delete_tags(Resources=[vol], Tags=[{"Key": PROTECT}])
    assert act(rig, executor, "ebs-volume", vol, "snapshot-then-delete").result == "deleted"
    assert [e.result for e in audit_of(rig, vol)] == ["refused", "deleted"]


def test_an_elastic_ip_is_released_only_with_its_typed_confirmation(
    rig: Rig, executor: WasteExecutor
) -> None:
    ec2 = rig.ec2()
    address = ec2.allocate_address(Domain="vpc")
    alloc, ip = address["AllocationId"], address["PublicIp"]
    for typed in (None, "", "yes", alloc[:-1]):
        held = act(rig, executor, "elastic-ip", alloc, "release", confirm=typed)
        assert held.result == "confirm-required" and alloc in held.message, typed
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]
    released = act(rig, executor, "elastic-ip", alloc, "release", confirm=ip)
    assert released.result == "released", released.message
    assert ip not in {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
    assert [e.result for e in audit_of(rig, alloc)] == ["confirm-required"] * 4 + ["released"]
    # never by a policy, whatever it types
    other = ec2.allocate_address(Domain="vpc")["AllocationId"]
    by_policy = act(
        rig, executor, "elastic-ip", other, "release", actor="policy:waste", confirm=other
    )
    assert by_policy.result == "refused" and "never run by a policy" in by_policy.message
    assert ec2.describe_addresses(AllocationIds=[other])["Addresses"]


def _nat_gateway(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return str(
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    )


def test_a_nat_gateway_is_flagged_and_deleted_only_with_its_id_typed(
    rig: Rig, executor: WasteExecutor
) -> None:
    ec2 = rig.ec2()
    nat = _nat_gateway(ec2)
    flagged = act(rig, executor, "nat-gateway", nat, "tag-and-notify")
    assert flagged.result == "tagged"
    (gw,) = ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"]
    tags = {t["Key"]: t["Value"] for t in gw.get("Tags", [])}
    assert tags["spendsense:flagged"] == rig.clock().date().isoformat()
    assert rig.sink.records[-1].action == "nat-gateway:tag-and-notify"  # the live feed's notice
    assert act(rig, executor, "nat-gateway", nat, "delete").result == "confirm-required"
    assert act(rig, executor, "nat-gateway", nat, "delete", confirm=nat).result == "deleted"


def test_a_load_balancer_is_flagged_by_its_arn(rig: Rig, executor: WasteExecutor) -> None:
    ec2, elbv2 = rig.ec2(), client(rig, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    name = f"idle-{uuid.uuid4().hex[:8]}"
    arn = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    assert act(rig, executor, "load-balancer", arn, "tag-and-notify").result == "tagged"
    (described,) = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    assert "spendsense:flagged" in {t["Key"] for t in described["Tags"]}
    assert act(rig, executor, "load-balancer", arn, "delete", confirm="yes").result == (
        "confirm-required"
    )
    assert act(rig, executor, "load-balancer", arn, "delete", confirm=name).result == "deleted"
    assert not elbv2.describe_load_balancers()["LoadBalancers"] or arn not in {
        lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]
    }


def _db_status(rds: Any, arn: str) -> str:
    """The database's status, described by the identifier its ARN ends in."""
    found = rds.describe_db_instances(DBInstanceIdentifier=arn.split(":db:")[1])
    return str(found["DBInstances"][0]["DBInstanceStatus"])


def test_a_database_is_stopped_and_a_protected_one_is_not(
    rig: Rig, executor: WasteExecutor
) -> None:
    rds = client(rig, "rds")
    db_arn = create_database(rds)
    stopped = act(rig, executor, "rds-instance", db_arn, "stop")
    assert stopped.result == "stopped" and "7 days" in stopped.message
    assert _db_status(rds, db_arn) in {"stopped", "stopping"}
    kept = create_database(rds, tags={PROTECT: ""})
    assert act(rig, executor, "rds-instance", kept, "stop").result == "refused"
    assert _db_status(rds, kept) == "available"


def test_of_two_databases_of_one_identifier_only_the_one_asked_for_is_stopped(
    rig: Rig, executor: WasteExecutor
) -> None:
    """An identifier is unique only within one account and region: the ARN names the
    database, and one whose account or region is not the request's is refused."""
    ident = f"app-db-{uuid.uuid4().hex[:8]}"
    here, there = client(rig, "rds"), client(rig, "rds", region="eu-west-1")
    busy, idle = create_database(here, ident), create_database(there, ident)
    assert busy != idle
    wrong = act(rig, executor, "rds-instance", idle, "stop")  # the request says us-east-1
    assert wrong.result == "refused" and "eu-west-1" in wrong.message
    assert (_db_status(here, busy), _db_status(there, idle)) == ("available", "available")
    stopped = act(rig, executor, "rds-instance", idle, "stop", region="eu-west-1")
    assert stopped.result == "stopped"
    assert _db_status(there, idle) in {"stopped", "stopping"}
    assert _db_status(here, busy) == "available"
    bare = act(rig, executor, "rds-instance", ident, "stop", decision_key="bare-" + ident)
    assert bare.result == "refused" and _db_status(here, busy) == "available"


def test_a_snapshot_is_deleted_with_its_id_typed(rig: Rig, executor: WasteExecutor) -> None:
    ec2 = rig.ec2()
    snap = ec2.create_snapshot(VolumeId=volume(ec2))["SnapshotId"]
    assert act(rig, executor, "ebs-snapshot", snap, "delete").result == "confirm-required"
    assert act(rig, executor, "ebs-snapshot", snap, "delete", confirm=snap).result == "deleted"
    assert snap not in {
        s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    }
    # gone already: nothing to do
    again = act(
        rig, executor, "ebs-snapshot", snap, "delete", confirm=snap, decision_key="k2-" + snap
    )
    assert again.result == "skipped" and again.details == {"gone": True}


def test_a_policy_runs_dry_first_and_under_its_cap(rig: Rig, executor: WasteExecutor) -> None:
    rds = client(rig, "rds")
    first, second = create_database(rds), create_database(rds)
    policy = {"actor": "policy:waste", "max_per_hour": 1}
    dry = act(rig, executor, "rds-instance", first, "stop", dry_run=True, **policy)
    assert dry.result == "dry-run"
    assert _db_status(rds, first) == "available"
    assert act(
        rig, executor, "rds-instance", first, "stop", decision_key="p1", **policy
    ).result == ("stopped")
    capped = act(rig, executor, "rds-instance", second, "stop", decision_key="p2", **policy)
    assert capped.result == "skipped" and "cap of 1" in capped.message
    rig.clock.advance(hours=1, minutes=1)
    assert act(
        rig, executor, "rds-instance", second, "stop", decision_key="p2", **policy
    ).result == ("stopped")


def test_another_tenants_resource_and_an_unknown_action_are_not_found(
    rig: Rig, executor: WasteExecutor
) -> None:
    assert find_action("elastic-ip", "delete") is None
    with pytest.raises(Exception, match="has no action 'delete'"):
        act(rig, executor, "elastic-ip", "eipalloc-1", "delete")
    theirs = rig.ec2("globex").allocate_address(Domain="vpc")
    # acme's role reaches acme's account only: globex's address is not there
    outcome = act(
        rig, executor, "elastic-ip", theirs["AllocationId"], "release", confirm=theirs["PublicIp"]
    )
    assert outcome.result in {"skipped", "failed"}
    assert rig.ec2("globex").describe_addresses(AllocationIds=[theirs["AllocationId"]])["Addresses"]


def test_the_waste_policy_is_off_then_dry_run_then_acts_once_per_finding(rig: Rig) -> None:
    ec2 = rig.ec2()
    vol = volume(ec2)
    since = rig.clock() - timedelta(days=3)
    found = WasteRecord(
        tenant_id="acme",
        account_id=rig.accounts["acme"].account_id,
        region=REGION,
        kind="ebs-volume",
        resource_id=vol,
        waste=True,
        monthly_price_usd=4.0,
        reason="unattached for 3 days",
        since=since,
        observed_at=rig.clock(),
    )
    waste = rig.runtime.waste_policy
    assert waste is not None
    assert waste.consider(found) is None  # off by default

    def policy(**fields: Any) -> None:
        with rig.store.sessions.begin() as session:
            tenant = session.get(Tenant, "acme")
            assert tenant is not None
            for name, value in fields.items():
                setattr(tenant, f"waste_policy_{name}", value)

    policy(enabled=True)  # dry run by default: audited, nothing changed
    dry = waste.consider(found)
    assert dry is not None and dry.result == "dry-run", dry
    assert vol in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    # a provisional finding, or a kind no policy may touch, is never acted on
    assert waste.consider(found.model_copy(update={"waste": False, "provisional": True})) is None
    eip = found.model_copy(update={"kind": "elastic-ip", "resource_id": "eipalloc-0abc"})
    assert waste.consider(eip) is None
    # quiet above a rest level (an agent's connection, or a small report's?) is a person's
    hums = found.model_copy(update={"details": {"quiet_above_rest_level": True}})
    assert waste.consider(hums) is None

    policy(dry_run=False)
    later = found.model_copy(update={"observed_at": rig.clock() + timedelta(hours=1)})
    done = waste.consider(later)
    assert done is not None and done.result == "deleted", done
    assert vol not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    again = waste.consider(later)  # the same finding seen again: acted on once
    assert again is not None and again.result == "replayed"
    entries = audit_of(rig, vol)
    assert [(e.actor, e.result, e.dry_run) for e in entries] == [
        ("policy:waste", "dry-run", True),
        ("policy:waste", "deleted", False),
    ]


def test_a_delete_whose_process_died_is_taken_again_and_reuses_its_snapshot(
    rig: Rig, executor: WasteExecutor
) -> None:
    ec2 = rig.ec2()
    vol = volume(ec2, {"Name": "scratch"})
    key = f"acme/test/ebs-volume/{vol}/snapshot-then-delete"
    # the dead try: its decision recorded, its backup made, then the process was killed
    with rig.store.sessions.begin() as session:
        session.add(
            WasteDecision(
                decision_key=key,
                tenant_id="acme",
                kind="ebs-volume",
                resource_id=vol,
                action="snapshot-then-delete",
                actor="ops@acme.test",
                decided_at=rig.clock(),
                status="pending",
            )
        )
    first = ec2.create_snapshot(
        VolumeId=vol,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": BACKUP_TAG, "Value": vol}]}
        ],
    )["SnapshotId"]
    rig.clock.advance(minutes=5)  # still within the lease: the first try may be alive
    assert act(rig, executor, "ebs-volume", vol, "snapshot-then-delete").result == "in-progress"
    rig.clock.advance(minutes=15)
    done = act(rig, executor, "ebs-volume", vol, "snapshot-then-delete")
    assert (done.result, done.details["snapshot_id"]) == ("deleted", first)
    backups = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [vol]}])
    assert [s["SnapshotId"] for s in backups["Snapshots"]] == [first]  # no second snapshot
    # the volume's own tags are kept in the audit, not copied (the role writes spendsense:* only)
    assert done.details["volume_tags"] == {"Name": "scratch"}
