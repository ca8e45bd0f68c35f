"""Pour a fleet's resources into moto's backends, with the fleet's ids, as they stand at the
sandbox's start; what changes later (a volume detached, an address freed or moved) is
returned as :class:`~sandbox.resource_events.ResourceEvents`, applied when sandbox time
reaches it.

- ``ebs-volume``: a volume of its size and type, created at its time, attached to its
  running fleet instance; a stopped instance's volume is the root volume of a stopped
  instance launched for it (its ``StateTransitionReason`` carries the stop time, as AWS's
  does).
- ``elastic-ip``: an allocated address (its public IP), associated with its instance.
- ``ebs-snapshot``: a snapshot of its volume (kept and attached, or deleted when gone), its
  ``Description`` naming the AMI when it was made for one, as CreateImage's does; an AMI
  that still exists is registered in the account with the snapshot as its root device.
- ``nat-gateway``: in a VPC and subnet of its account and region (one per account and
  region), with an address of its own.
- ``load-balancer``: an ALB or NLB with its ARN in two subnets of that VPC, a listener
  forwarding to its target group, and its instance registered there while it has healthy
  targets.
- ``rds-instance``: a database of its engine, class and storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends
from moto.rds.models import rds_backends

from sandbox.fleet.model import FleetResource
from sandbox.resource_events import ResourceEvents
from sandbox.resource_metrics import dimension_value
from sandbox.timeline import Timeline
from spendsense.errors import ConfigError

_EC2 = "moto.ec2.models"
_HOST_TYPE = "t3.medium"
_AMI = "ami-12c6146b"


@contextmanager
def _ids(target: str, *ids: str) -> Iterator[None]:
    """moto's id generator ``target`` handing out ``ids`` in turn while seeding."""
    queue = iter(ids)
    with mock.patch(target, lambda *_, **__: next(queue)):
        yield


class ResourceSeeder:
    """Creates each resource in its account and region; remembers the VPCs it made."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.events = ResourceEvents()
        self._subnets: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self._devices: dict[str, int] = {}

    def device(self, instance_id: str) -> str:
        """The next free data-volume device of an instance (``/dev/sdf``, ``/dev/sdg``, ...)."""
        n = self._devices.get(instance_id, 0)
        self._devices[instance_id] = n + 1
        return f"/dev/sd{chr(ord('f') + n)}" if n < 21 else f"/dev/xvd{chr(ord('a') + n - 21)}"

    def when(self, resource: FleetResource, fact: str) -> float | None:
        """A time fact in sandbox epoch seconds (None when the fact is null)."""
        at = resource.time(fact)
        return None if at is None else self.timeline.sandbox_time(at.timestamp())

    def naive(self, resource: FleetResource, fact: str) -> datetime:
        """A time fact as moto keeps times: naive UTC, in sandbox time."""
        epoch = self.when(resource, fact)
        if epoch is None:
            raise ConfigError(f"resources.json: {resource.resource_id} needs {fact}")
        return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)

    def past(self, epoch: float | None) -> bool:
        """Whether a sandbox time has come by the sandbox's start."""
        return epoch is not None and epoch <= self.timeline.clock.start

    def seed(self, resource: FleetResource) -> None:
        """Create ``resource`` in moto (and schedule its later changes)."""
        getattr(self, "_" + resource.kind.replace("-", "_"))(resource)

    # -- kinds ---------------------------------------------------------------------------

    def _ebs_volume(self, r: FleetResource) -> None:
        ec2: Any = ec2_backends[r.account_id][r.region]
        facts = r.facts
        if facts["instance_state"] == "stopped":
            self._stopped_host(r)
            return
        with _ids(f"{_EC2}.elastic_block_store.random_volume_id", r.resource_id):
            volume = ec2.create_volume(
                size=facts["size_gb"], zone_name=f"{r.region}a", volume_type=facts["volume_type"]
            )
        volume.create_time = self.naive(r, "created")
        ec2.create_tags([r.resource_id], r.tags)
        if facts["attached_to"] is None:
            return
        host = str(facts["attached_to"])
        device = self.device(host)
        detached, back = self.when(r, "detached_at"), self.when(r, "reattached_at")
        if not self.past(detached) or self.past(back):
            ec2.attach_volume(r.resource_id, host, device)
        if detached is not None and not self.past(detached):
            self.events.add(detached, lambda: ec2.detach_volume(r.resource_id, host, device))
        if back is not None and not self.past(back):
            self.events.add(back, lambda: ec2.attach_volume(r.resource_id, host, device))

    def _stopped_host(self, r: FleetResource) -> None:
        ec2: Any = ec2_backends[r.account_id][r.region]
        with (
            _ids(f"{_EC2}.instances.random_instance_id", str(r.facts["attached_to"])),
            _ids(f"{_EC2}.elastic_block_store.random_volume_id", r.resource_id),
        ):
            reservation = ec2.run_instances(
                _AMI,
                1,
                None,
                [],
                region_name=r.region,
                instance_type=_HOST_TYPE,
                is_instance_type_default=False,
                tags={"instance": {"Name": f"{r.name}-host"}},
            )
        instance = reservation.instances[0]
        instance.launch_time = self.naive(r, "created")
        instance.stop()
        stopped = self.naive(r, "instance_stopped_at")
        instance._reason = f"User initiated ({stopped:%Y-%m-%d %H:%M:%S} GMT)"
        volume = ec2.volumes[r.resource_id]
        volume.size, volume.volume_type = r.facts["size_gb"], r.facts["volume_type"]
        volume.create_time = instance.launch_time
        ec2.create_tags([r.resource_id], r.tags)

    def _elastic_ip(self, r: FleetResource) -> None:
        ec2: Any = ec2_backends[r.account_id][r.region]
        with _ids(f"{_EC2}.elastic_ip_addresses.random_eip_allocation_id", r.resource_id):
            address = ec2.allocate_address("vpc", address=r.facts["public_ip"], tags=r.tags)
        host = r.facts["associated_with"]

        def associate() -> None:
            instance = ec2.get_instance(host)
            ec2.associate_address(instance=instance, allocation_id=r.resource_id, reassociate=True)

        freed, back = self.when(r, "disassociated_at"), self.when(r, "reassociated_at")
        if host is not None and (not self.past(freed) or self.past(back)):
            associate()
        if freed is not None and not self.past(freed):
            self.events.add(freed, lambda: ec2.disassociate_address(address=address.public_ip))
        if back is not None and not self.past(back):
            self.events.add(back, associate)

    def _ebs_snapshot(self, r: FleetResource) -> None:
        ec2: Any = ec2_backends[r.account_id][r.region]
        volume_id = str(r.facts["volume_id"])
        with _ids(f"{_EC2}.elastic_block_store.random_volume_id", volume_id):
            ec2.create_volume(size=r.facts["size_gb"], zone_name=f"{r.region}a", volume_type="gp3")
        ami = r.facts["ami_id"]
        description = (
            f"Created by CreateImage(i-0000000000000000) for {ami} from {volume_id}"
            if ami
            else f"backup of {r.name}"
        )
        with _ids(f"{_EC2}.elastic_block_store.random_snapshot_id", r.resource_id):
            snapshot = ec2.create_snapshot(volume_id, description, from_ami=ami)
        snapshot.start_time = self.naive(r, "created")
        ec2.create_tags([r.resource_id], r.tags)
        if r.facts["ami_exists"]:
            self._image(r, snapshot)
        if r.facts["volume_exists"]:
            host = next(iter(self._instances(r)), None)
            if host is not None:
                ec2.attach_volume(volume_id, host, self.device(host))
        else:
            ec2.delete_volume(volume_id)

    def _image(self, r: FleetResource, snapshot: Any) -> None:
        """Register the snapshot's AMI in its account, its root device the snapshot."""
        ec2: Any = ec2_backends[r.account_id][r.region]
        with _ids(f"{_EC2}.amis.random_ami_id", str(r.facts["ami_id"])):
            image = ec2.register_image(name=f"{r.name}-image", description=f"image of {r.name}")
        ec2.snapshots.pop(image.ebs_snapshot.id, None)  # the one moto made for it
        image.ebs_snapshot = snapshot

    def _instances(self, r: FleetResource) -> list[str]:
        """The running fleet instances in the resource's account and region."""
        return [
            i.instance_id
            for i in self.timeline.fleet.instances.values()
            if (i.account_id, i.region, i.state) == (r.account_id, r.region, "running")
        ]

    def _network(self, r: FleetResource) -> tuple[str, list[str]]:
        """The VPC and two subnets of the resource's account and region (made once)."""
        key = (r.account_id, r.region)
        if key not in self._subnets:
            ec2: Any = ec2_backends[r.account_id][r.region]
            vpc = ec2.create_vpc("10.90.0.0/16", tags=[{"Key": "Name", "Value": "fleet"}])
            subnets = [
                ec2.create_subnet(vpc.id, f"10.90.{n}.0/24", availability_zone=f"{r.region}{z}").id
                for n, z in ((1, "a"), (2, "b"))
            ]
            self._subnets[key] = (vpc.id, subnets)
        return self._subnets[key]

    def _nat_gateway(self, r: FleetResource) -> None:
        ec2: Any = ec2_backends[r.account_id][r.region]
        _, subnets = self._network(r)
        address = ec2.allocate_address("vpc", tags={"Name": f"{r.name}-ip"})
        with _ids(f"{_EC2}.nat_gateways.random_nat_gateway_id", r.resource_id):
            nat = ec2.create_nat_gateway(subnets[0], address.allocation_id, tags=r.tags)
        nat._created_at = self.naive(r, "created")

    def _load_balancer(self, r: FleetResource) -> None:
        elbv2: Any = elbv2_backends[r.account_id][r.region]
        vpc, subnets = self._network(r)
        tags = [{"Key": k, "Value": v} for k, v in r.tags.items()]
        with _ids("moto.elbv2.models.make_arn_for_load_balancer", r.resource_id):
            lb = elbv2.create_load_balancer(
                r.name, [], subnets, loadbalancer_type=r.facts["type"], tags=tags
            )
        lb.created_time = f"{self.naive(r, 'created'):%Y-%m-%dT%H:%M:%S}.000Z"
        protocol = "HTTP" if r.facts["type"] == "application" else "TCP"
        group = elbv2.create_target_group(
            r.name[:32], protocol=protocol, port=80, vpc_id=vpc, target_type="instance"
        )
        forward = [{"Type": "forward", "TargetGroupArn": group.arn}]
        elbv2.create_listener(lb.arn, protocol, "80", "", None, forward)
        quiet = self.when(r, "last_active")  # its targets went with its traffic
        hosts = self._instances(r)[:1]
        unused = r.label.since is not None and (quiet is None or self.past(quiet))
        if hosts and not unused:
            targets = [{"Id": hosts[0], "Port": 80}]
            elbv2.register_targets(group.arn, targets)
            if quiet is not None:
                self.events.add(quiet, lambda: elbv2.deregister_targets(group.arn, targets))

    def _rds_instance(self, r: FleetResource) -> None:
        rds: Any = rds_backends[r.account_id][r.region]
        tags = [{"Key": k, "Value": v} for k, v in r.tags.items()]
        db = rds.create_db_instance(
            {
                "db_instance_identifier": dimension_value(r.resource_id),  # of its ARN
                "engine": r.facts["engine"],
                "db_instance_class": r.facts["instance_class"],
                "allocated_storage": r.facts["storage_gb"],
                "master_username": "admin",
                "master_user_password": "sandbox-password",
                "tags": tags,
            }
        )
        db.created = db.instance_create_time = self.naive(r, "created")


def seed_resources(timeline: Timeline) -> ResourceEvents:
    """Create the fleet's resources in moto; returns the changes still to come."""
    seeder = ResourceSeeder(timeline)
    for resource in timeline.fleet.resources.values():
        seeder.seed(resource)
    for account, region in {(r.account_id, r.region) for r in timeline.fleet.resources.values()}:
        _drop_public_snapshots(ec2_backends[account][region])
    return seeder.events


def _drop_public_snapshots(ec2: Any) -> None:
    """Forget the snapshots of moto's built-in public AMIs, which moto lists among an
    account's own (``OwnerIds=["self"]``) where AWS would not: the account's snapshots are
    the fleet's."""
    for sid in [sid for sid, s in ec2.snapshots.items() if s.owner_id != ec2.account_id]:
        del ec2.snapshots[sid]
