"""The ``inventory`` collector: DescribeInstances per region to the compacted ``inventory`` topic.

Every instance the account lists (terminated ones too, while AWS still shows them) is
published keyed by its id, so the topic's last record per key is the instance's state.

>>> desc = {"InstanceId": "i-0abc12345", "State": {"Name": "running"},
...         "InstanceType": "m5.large", "LaunchTime": datetime(2026, 11, 1, tzinfo=UTC),
...         "Tags": [{"Key": "Name", "Value": "web"},
...                  {"Key": "aws:autoscaling:groupName", "Value": "web-asg"}],
...         "InstanceLifecycle": "spot", "RootDeviceType": "ebs"}
>>> acct = AccountRef("t1", "111111111111", "arn:aws:iam::111111111111:role/x", "e" * 32)
>>> r = to_record(desc, acct, "eu-west-1", datetime(2026, 11, 2, tzinfo=UTC))
>>> (r.name, r.lifecycle, r.asg_name, r.platform, r.hourly_price_usd)
('web', 'spot', 'web-asg', 'linux', 0.096)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ingest.deps import AccountJob, InstanceInfo
from ingest.faults import AwsFault, aws_faults
from ingest.prices import hourly_price
from ingest.registry import Collector, register
from spendsense.access import AccountRef
from spendsense.errors import TenantAccessError
from spendsense.events import InventoryRecord
from spendsense.topics import INVENTORY

log = logging.getLogger(__name__)

LIFECYCLES = {"spot", "scheduled", "capacity-block"}


def to_record(
    desc: dict[str, Any], account: AccountRef, region: str, now: datetime
) -> InventoryRecord:
    """One DescribeInstances instance as an :class:`InventoryRecord`."""
    tags = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
    lifecycle = desc.get("InstanceLifecycle", "on-demand")
    launch = desc["LaunchTime"]
    if launch.tzinfo is None:
        launch = launch.replace(tzinfo=UTC)
    return InventoryRecord(
        tenant_id=account.tenant_id,
        account_id=account.account_id,
        region=region,
        instance_id=desc["InstanceId"],
        name=tags.get("Name", ""),
        state=desc["State"]["Name"],
        instance_type=desc["InstanceType"],
        launch_time=launch,
        tags=tags,
        lifecycle=lifecycle if lifecycle in LIFECYCLES else "on-demand",
        root_device_type="instance-store"
        if desc.get("RootDeviceType") == "instance-store"
        else "ebs",
        asg_name=tags.get("aws:autoscaling:groupName"),
        platform=str(desc.get("Platform", "linux")).lower(),
        hourly_price_usd=hourly_price(desc["InstanceType"]),
        observed_at=now,
    )


@register("inventory")
class InventoryCollector(Collector):
    """Lists every instance of every enabled region (paginated); a failing region is skipped."""

    permissions = ("ec2:DescribeInstances",)
    order = 10

    def collect(self, job: AccountJob) -> int:
        sent = 0
        sessions = self.ctx.sessions
        for region in job.regions:
            try:
                with (
                    aws_faults(region, "DescribeInstances"),
                    sessions.guard(job.account, region, "DescribeInstances"),
                ):
                    ec2 = sessions.client(job.account, "ec2", region)
                    pages = ec2.get_paginator("describe_instances").paginate(
                        PaginationConfig={"PageSize": 1000}
                    )
                    records = [
                        to_record(inst, job.account, region, job.now)
                        for page in pages
                        for reservation in page["Reservations"]
                        for inst in reservation["Instances"]
                    ]
            except (TenantAccessError, AwsFault) as err:
                # This region only: the others are still collected; its instances are
                # unknown this cycle, so no collector after this one touches the region.
                job.errors.append((region, err.code, err.message))
                continue
            for record in records:
                job.publisher.send(INVENTORY, record)
            job.instances[region] = [
                InstanceInfo(r.instance_id, r.state, r.launch_time) for r in records
            ]
            sent += len(records)
        self.ctx.metrics.collected.labels(tenant=job.account.tenant_id, collector=self.name).inc(
            sent
        )
        return sent
