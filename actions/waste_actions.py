"""The safe actions on wasted resources, registered as ``<kind>-<action>`` names: how each
of the actions a resource kind declares (``spendsense.resources``: its name and IAM
permissions) is done, whether it needs a typed confirmation and whether a policy may ever
run it.

Each plugin describes its resource fresh (through the tenant's role:
:class:`~actions.waste_executor.WasteExecutor` hands it the client), says what forbids the
action beyond the protect tag, and acts:

* ``ebs-volume`` ``snapshot-then-delete``: a snapshot, waited for until it completes, then the
  volume deleted; the snapshot id is kept in the audit (policy may enable it, off by default);
* ``elastic-ip`` ``release``: irreversible, so the person types the allocation id or the
  public IP; never by policy;
* ``nat-gateway`` and ``load-balancer`` ``tag-and-notify``: ``spendsense:flagged=<date>`` (the digest
  and the live feed tell the owner); ``delete`` only with the id (name) typed, never by policy;
* ``rds-instance`` ``stop``: AWS starts a stopped database again after 7 days (policy may
  enable it, off by default);
* ``ebs-snapshot`` ``delete``: with the snapshot id typed.

>>> list(WASTE_ACTIONS)  # doctest: +NORMALIZE_WHITESPACE
['ebs-snapshot-delete', 'ebs-volume-snapshot-then-delete', 'elastic-ip-release',
 'load-balancer-delete', 'load-balancer-tag-and-notify', 'nat-gateway-delete',
 'nat-gateway-tag-and-notify', 'rds-instance-stop']
>>> ReleaseAddress.permissions()
('ec2:DescribeAddresses', 'ec2:ReleaseAddress')
>>> sorted(p.__name__ for p in plugins() if p.policy)
['SnapshotDeleteVolume', 'StopDatabase']
>>> actions_of("elastic-ip")
['release']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from spendsense.registry import Registry
from spendsense.resources.kinds.ebs_snapshot import BACKUP_TAG
from spendsense.resources.registry import SafeAction, load_kinds

FLAG_TAG = "spendsense:flagged"


@dataclass(frozen=True)
class ResourceFacts:
    """A resource as its service described it just now."""

    kind: str
    resource_id: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    confirm_with: tuple[str, ...] = ()
    """What a person may type to confirm (the id; a public IP; a load balancer's name)."""
    details: dict[str, Any] = field(default_factory=dict)


Done = tuple[str, str, dict[str, Any]]
"""(result, message, details for the audit) of an action carried out."""


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or []}


class WasteAction:
    """Base of every action on a wasted resource: the kind and the action's name as the
    kind declares it (:class:`~spendsense.resources.registry.SafeAction`, with the IAM
    permissions it needs), and how it is done."""

    kind: ClassVar[str]
    action: ClassVar[str]
    service: ClassVar[str] = "ec2"
    confirm: ClassVar[bool] = False
    """A person must type the resource's id (or name, or public IP) first (never weaker
    than the kind's declaration)."""
    policy: ClassVar[bool] = False
    """A policy may run it (dry-run first, capped); off unless the tenant enables it."""
    not_found: ClassVar[tuple[str, ...]] = ()
    """The AWS error codes that say the resource no longer exists."""
    describe_op: ClassVar[str] = ""
    act_op: ClassVar[str] = ""

    @classmethod
    def declared(cls) -> SafeAction:
        """The kind's declaration of this action."""
        for safe in load_kinds()[cls.kind].actions:
            if safe.name == cls.action:
                return safe
        raise LookupError(f"resource kind {cls.kind} declares no action {cls.action!r}")

    @classmethod
    def permissions(cls) -> tuple[str, ...]:
        """The IAM actions it calls: the kind's reads (describing it) and its own."""
        return tuple(sorted({*load_kinds()[cls.kind].permissions, *cls.declared().permissions}))

    @staticmethod
    def describe(client: Any, resource_id: str) -> ResourceFacts | None:
        """The resource now (None: it no longer exists)."""
        raise NotImplementedError

    @staticmethod
    def misplaced(resource_id: str, account_id: str, region: str) -> str | None:
        """Why the id cannot name a resource of the request's account and region, asked
        before anything is described (None: it can)."""
        return None

    @staticmethod
    def refusal(facts: ResourceFacts) -> str | None:
        """What forbids the action beyond the protect tag (None: nothing)."""
        return None

    @staticmethod
    def run(client: Any, facts: ResourceFacts, today: datetime) -> Done:
        raise NotImplementedError


WASTE_ACTIONS: Registry[type[WasteAction]] = Registry("waste action")


def action_name(kind: str, action: str) -> str:
    """The registered name of ``action`` on ``kind``.

    >>> action_name("elastic-ip", "release")
    'elastic-ip-release'
    """
    return f"{kind}-{action}"


def register(cls: type[WasteAction]) -> type[WasteAction]:
    """Register ``cls`` under ``<kind>-<action>``."""
    return WASTE_ACTIONS.register(action_name(cls.kind, cls.action))(cls)


def plugins() -> Iterator[type[WasteAction]]:
    """Every registered action plugin."""
    return (WASTE_ACTIONS[name] for name in WASTE_ACTIONS)


def find_action(kind: str, action: str) -> type[WasteAction] | None:
    """The plugin of ``action`` on ``kind`` (None: there is none)."""
    for plugin in plugins():
        if plugin.kind == kind and plugin.action == action:
            return plugin
    return None


def actions_of(kind: str) -> list[str]:
    """The actions registered for ``kind``, by name."""
    return [p.action for p in plugins() if p.kind == kind]


# -- EBS volumes -------------------------------------------------------------------------


def _volume(client: Any, resource_id: str) -> ResourceFacts | None:
    volume_id = resource_id
    found = client.describe_volumes(VolumeIds=[volume_id]).get("Volumes", [])
    if not found:
        return None
    v = found[0]
    attached = [a["InstanceId"] for a in v.get("Attachments", [])]
    return ResourceFacts(
        "ebs-volume",
        volume_id,
        str(v.get("State", "")),
        _tags(v.get("Tags")),
        (volume_id,),
        {"size_gb": v.get("Size"), "attached_to": attached},
    )


def _backup_of(ec2: Any, volume_id: str) -> str | None:
    """The backup an earlier, interrupted try made of the volume (pending or completed), so
    a retry waits for it instead of making a second one."""
    found = ec2.describe_snapshots(
        OwnerIds=["self"],
        Filters=[
            {"Name": "volume-id", "Values": [volume_id]},
            {"Name": f"tag:{BACKUP_TAG}", "Values": [volume_id]},
        ],
    )["Snapshots"]
    usable = [s for s in found if s.get("State") in ("pending", "completed")]
    return str(usable[0]["SnapshotId"]) if usable else None


def _new_backup(ec2: Any, facts: ResourceFacts) -> str:
    """Snapshot the volume, tagged only with the backup tag (the customer role lets
    SpendSense write ``spendsense:*`` tags only; the volume's own tags are in the audit)."""
    snap = ec2.create_snapshot(
        VolumeId=facts.resource_id,
        Description=f"SpendSense: {facts.resource_id} before deleting it",
        TagSpecifications=[
            {
                "ResourceType": "snapshot",
                # the customer's backup, never judged waste itself
                "Tags": [{"Key": BACKUP_TAG, "Value": facts.resource_id}],
            }
        ],
    )
    return str(snap["SnapshotId"])


@register
class SnapshotDeleteVolume(WasteAction):
    """Snapshot the volume, wait until the snapshot completes, then delete the volume."""

    kind = "ebs-volume"
    action = "snapshot-then-delete"
    policy = True
    not_found = ("InvalidVolume.NotFound",)
    describe_op, act_op = "DescribeVolumes", "CreateSnapshot"
    describe = staticmethod(_volume)
    wait_delay_s: ClassVar[int] = 5
    wait_attempts: ClassVar[int] = 120

    @staticmethod
    def refusal(facts: ResourceFacts) -> str | None:
        if facts.details.get("attached_to"):
            ids = ", ".join(facts.details["attached_to"])
            return f"it is attached to {ids}: detach it first"
        return None

    @staticmethod
    def run(ec2: Any, facts: ResourceFacts, today: datetime) -> Done:
        snapshot_id = _backup_of(ec2, facts.resource_id) or _new_backup(ec2, facts)
        ec2.get_waiter("snapshot_completed").wait(
            SnapshotIds=[snapshot_id],
            WaiterConfig={
                "Delay": SnapshotDeleteVolume.wait_delay_s,
                "MaxAttempts": SnapshotDeleteVolume.wait_attempts,
            },
        )
        ec2.delete_volume(VolumeId=facts.resource_id)
        return (
            "deleted",
            f"snapshot {snapshot_id} completed, then the volume was deleted",
            {"snapshot_id": snapshot_id, "volume_tags": facts.tags},
        )


# -- Elastic IPs -------------------------------------------------------------------------


@register
class ReleaseAddress(WasteAction):
    """Release the address (irreversible: the IP cannot be had back)."""

    kind = "elastic-ip"
    action = "release"
    confirm = True
    not_found = ("InvalidAllocationID.NotFound", "InvalidAddress.NotFound")
    describe_op, act_op = "DescribeAddresses", "ReleaseAddress"

    @staticmethod
    def describe(ec2: Any, resource_id: str) -> ResourceFacts | None:
        ask = (
            {"AllocationIds": [resource_id]}
            if resource_id.startswith("eipalloc-")
            else {"PublicIps": [resource_id]}
        )
        found = ec2.describe_addresses(**ask).get("Addresses", [])
        if not found:
            return None
        a = found[0]
        ip, alloc = str(a.get("PublicIp", "")), str(a.get("AllocationId", ""))
        return ResourceFacts(
            "elastic-ip",
            resource_id,
            "associated" if a.get("AssociationId") else "unassociated",
            _tags(a.get("Tags")),
            tuple(x for x in (alloc, ip) if x),
            {"public_ip": ip, "allocation_id": alloc},
        )

    @staticmethod
    def refusal(facts: ResourceFacts) -> str | None:
        if facts.state == "associated":
            return "it is associated again: disassociate it first"
        return None

    @staticmethod
    def run(ec2: Any, facts: ResourceFacts, today: datetime) -> Done:
        alloc = facts.details["allocation_id"]
        if alloc:
            ec2.release_address(AllocationId=alloc)
        else:
            ec2.release_address(PublicIp=facts.details["public_ip"])
        return "released", f"address {facts.details['public_ip']} released", {}


# -- NAT gateways ------------------------------------------------------------------------


def _nat(client: Any, resource_id: str) -> ResourceFacts | None:
    nat_id = resource_id
    found = client.describe_nat_gateways(NatGatewayIds=[nat_id]).get("NatGateways", [])
    if not found or found[0].get("State") in {"deleted", "deleting"}:
        return None
    n = found[0]
    return ResourceFacts(
        "nat-gateway", nat_id, str(n.get("State", "")), _tags(n.get("Tags")), (nat_id,)
    )


def flagged(today: datetime) -> tuple[list[dict[str, str]], Done]:
    """The flag (``spendsense:flagged=<the day>``) as AWS takes tags, and what setting it did.

    >>> from datetime import UTC
    >>> flagged(datetime(2026, 11, 27, 13, tzinfo=UTC))[0]
    [{'Key': 'spendsense:flagged', 'Value': '2026-11-27'}]
    """
    tag = f"{FLAG_TAG}={today.date().isoformat()}"
    return [{"Key": FLAG_TAG, "Value": today.date().isoformat()}], (
        "tagged",
        f"tagged {tag}",
        {"tag": tag},
    )


class NatAction(WasteAction):
    kind = "nat-gateway"
    not_found = ("NatGatewayNotFound", "InvalidNatGatewayID.NotFound")
    describe_op = "DescribeNatGateways"
    describe = staticmethod(_nat)


@register
class TagNat(NatAction):
    """Tag it ``spendsense:flagged=<date>`` for its owner to see."""

    action = "tag-and-notify"
    act_op = "CreateTags"

    @staticmethod
    def run(ec2: Any, facts: ResourceFacts, today: datetime) -> Done:
        tags, done = flagged(today)
        ec2.create_tags(Resources=[facts.resource_id], Tags=tags)
        return done


@register
class DeleteNat(NatAction):
    """Delete it (a person only, with its id typed)."""

    action = "delete"
    confirm = True
    act_op = "DeleteNatGateway"

    @staticmethod
    def run(ec2: Any, facts: ResourceFacts, today: datetime) -> Done:
        ec2.delete_nat_gateway(NatGatewayId=facts.resource_id)
        return "deleted", "the NAT gateway is being deleted", {}


# -- load balancers ----------------------------------------------------------------------


def _balancer(client: Any, resource_id: str) -> ResourceFacts | None:
    elbv2 = client
    ask = (
        {"LoadBalancerArns": [resource_id]}
        if resource_id.startswith("arn:")
        else {"Names": [resource_id]}
    )
    found = elbv2.describe_load_balancers(**ask).get("LoadBalancers", [])
    if not found:
        return None
    lb = found[0]
    arn = str(lb["LoadBalancerArn"])
    described = elbv2.describe_tags(ResourceArns=[arn]).get("TagDescriptions", [])
    tags = _tags(described[0].get("Tags")) if described else {}
    return ResourceFacts(
        "load-balancer",
        resource_id,
        str(lb.get("State", {}).get("Code", "")),
        tags,
        (str(lb["LoadBalancerName"]), arn),
        {"arn": arn, "name": lb["LoadBalancerName"], "type": lb.get("Type", "")},
    )


class BalancerAction(WasteAction):
    kind = "load-balancer"
    service = "elbv2"
    not_found = ("LoadBalancerNotFound",)
    describe_op = "DescribeLoadBalancers"
    describe = staticmethod(_balancer)


@register
class TagBalancer(BalancerAction):
    """Tag it ``spendsense:flagged=<date>`` for its owner to see."""

    action = "tag-and-notify"
    act_op = "AddTags"

    @staticmethod
    def run(elbv2: Any, facts: ResourceFacts, today: datetime) -> Done:
        tags, done = flagged(today)
        elbv2.add_tags(ResourceArns=[facts.details["arn"]], Tags=tags)
        return done


@register
class DeleteBalancer(BalancerAction):
    """Delete it (a person only, with its name typed)."""

    action = "delete"
    confirm = True
    act_op = "DeleteLoadBalancer"

    @staticmethod
    def run(elbv2: Any, facts: ResourceFacts, today: datetime) -> Done:
        elbv2.delete_load_balancer(LoadBalancerArn=facts.details["arn"])
        return "deleted", f"load balancer {facts.details['name']} deleted", {}


# -- RDS ---------------------------------------------------------------------------------


def db_arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(region, account, identifier) of a DB instance ARN (None: not one).

    >>> db_arn_parts("arn:aws:rds:eu-west-1:111111111111:db:app-db")
    ('eu-west-1', '111111111111', 'app-db')
    >>> db_arn_parts("app-db") is None
    True
    """
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "rds" or parts[5] != "db":
        return None
    return parts[3], parts[4], parts[6]


@register
class StopDatabase(WasteAction):
    """Stop the database; AWS starts a stopped database again after 7 days. Its id is its
    ARN (an identifier is unique only within one account and region)."""

    kind = "rds-instance"
    action = "stop"
    service = "rds"
    policy = True
    not_found = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
    describe_op, act_op = "DescribeDBInstances", "StopDBInstance"

    @staticmethod
    def misplaced(resource_id: str, account_id: str, region: str) -> str | None:
        parts = db_arn_parts(resource_id)
        if parts is None:
            return "it is not a DB instance ARN"
        if parts[:2] != (region, account_id):
            return f"it is in account {parts[1]}, region {parts[0]}, not {account_id}, {region}"
        return None

    @staticmethod
    def describe(rds: Any, arn: str) -> ResourceFacts | None:
        parts = db_arn_parts(arn)
        if parts is None:
            return None
        ident = parts[2]
        found = rds.describe_db_instances(DBInstanceIdentifier=ident).get("DBInstances", [])
        if not found:
            return None
        d = found[0]
        return ResourceFacts(
            "rds-instance",
            arn,
            str(d.get("DBInstanceStatus", "")),
            _tags(d.get("TagList")),
            (arn, ident),
            {"engine": d.get("Engine", ""), "identifier": ident},
        )

    @staticmethod
    def refusal(facts: ResourceFacts) -> str | None:
        if facts.state != "available":
            return f"it is {facts.state}: only an available database can be stopped"
        return None

    @staticmethod
    def run(rds: Any, facts: ResourceFacts, today: datetime) -> Done:
        rds.stop_db_instance(DBInstanceIdentifier=facts.details["identifier"])
        return "stopped", "stopped; AWS starts it again by itself after 7 days", {}


# -- EBS snapshots -----------------------------------------------------------------------


@register
class DeleteSnapshot(WasteAction):
    """Delete the snapshot (a person only, with its id typed)."""

    kind = "ebs-snapshot"
    action = "delete"
    confirm = True
    not_found = ("InvalidSnapshot.NotFound",)
    describe_op, act_op = "DescribeSnapshots", "DeleteSnapshot"

    @staticmethod
    def describe(ec2: Any, snapshot_id: str) -> ResourceFacts | None:
        found = ec2.describe_snapshots(SnapshotIds=[snapshot_id]).get("Snapshots", [])
        if not found:
            return None
        s = found[0]
        return ResourceFacts(
            "ebs-snapshot",
            snapshot_id,
            str(s.get("State", "")),
            _tags(s.get("Tags")),
            (snapshot_id,),
            {"size_gb": s.get("VolumeSize"), "volume_id": s.get("VolumeId", "")},
        )

    @staticmethod
    def run(ec2: Any, facts: ResourceFacts, today: datetime) -> Done:
        ec2.delete_snapshot(SnapshotId=facts.resource_id)
        return "deleted", "snapshot deleted", {}
