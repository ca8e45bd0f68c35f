"""Pour a trace fleet into moto's backends, in process (far faster than over HTTP).

Every fleet instance becomes an EC2 instance in its account and region with the fleet's
id (moto's id generator is swapped for the fleet's ids while seeding), type, tags,
spot lifecycle, root device type, launch time (in sandbox time) and state. A few
instances, drawn with the seed, get stop protection (``DisableApiStop``). Each account
gets its long-lived user (``spendsense`` in the vendor account, ``admin`` in tenant
accounts), the vendor account SpendSense's service role (trusting the ``spendsense`` user),
and every account a verified SES sender in every fleet region.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.ec2.models import ec2_backends
from moto.ses.models import ses_backends

from sandbox.accounts import TENANT_USER, VENDOR_USER
from sandbox.fleet import FleetInstance
from sandbox.identity import ensure_service_role, ensure_user
from sandbox.timeline import Timeline

PROTECTED_SHARE = 0.05
DEFAULT_AMI = "ami-12c6146b"


def tenant_sender(account_id: str) -> str:
    """The verified SES sender of a tenant account.

    >>> tenant_sender("111111111111")
    'noreply@a111111111111.example'
    """
    return f"noreply@a{account_id}.example"


@contextmanager
def _fleet_ids(ids: Iterator[str]) -> Iterator[None]:
    with mock.patch("moto.ec2.models.instances.random_instance_id", lambda: next(ids)):
        yield


def _launch(instance: FleetInstance, timeline: Timeline, protected: bool) -> None:
    backend: Any = ec2_backends[instance.account_id][instance.region]
    with _fleet_ids(iter([instance.instance_id])):
        reservation = backend.run_instances(
            DEFAULT_AMI,
            1,
            None,
            [],
            region_name=instance.region,
            instance_type=instance.instance_type,
            is_instance_type_default=False,
            tags={"instance": dict(instance.tags)},
            disable_api_stop=protected,
            lifecycle="spot" if instance.lifecycle == "spot" else None,
        )
    ec2 = reservation.instances[0]
    ec2.root_device_type = instance.root_device_type
    launched = datetime.fromtimestamp(timeline.launch_time(instance), tz=UTC)
    ec2.launch_time = launched.replace(tzinfo=None)
    if instance.state == "stopped":
        ec2.stop()
    elif instance.state == "terminated":
        ec2.terminate()


def seed(
    timeline: Timeline, vendor_account: str, service_role: str, sender: str, seed: int
) -> list[str]:
    """Create the accounts, SpendSense's service role, SES identities and EC2 instances;
    returns the tenant account ids."""
    fleet = timeline.fleet
    rng = random.Random(seed)
    ids = list(fleet.instances)
    protected = set(rng.sample(ids, max(1, round(len(ids) * PROTECTED_SHARE))))
    tenants = sorted({i.account_id for i in fleet.instances.values()})
    regions = sorted({i.region for i in fleet.instances.values()} | {"us-east-1"})
    ensure_user(vendor_account, VENDOR_USER)
    ensure_service_role(vendor_account, service_role, VENDOR_USER)
    for account in tenants:
        ensure_user(account, TENANT_USER)
    for region in regions:
        vendor_ses: Any = ses_backends[vendor_account][region]
        vendor_ses.verify_email_identity(sender)
        vendor_ses.verify_domain(sender.rpartition("@")[2])
        for account in tenants:
            ses_backends[account][region].verify_email_identity(tenant_sender(account))
    for iid, instance in fleet.instances.items():
        _launch(instance, timeline, iid in protected)
    return tenants
