"""EBS volumes: unattached (``available``) longer than a grace period, or attached to an
instance stopped for more than N days (the stop date from its ``StateTransitionReason``, in ``details``).

AWS does not say when a volume was detached (that is CloudTrail's, which SpendSense does not
read): an ``available`` volume's ``state_since`` is the first cycle that saw it available (the
collector's sightings), so at onboarding an old unattached volume is provisional for its grace.

>>> now = datetime(2026, 11, 20, tzinfo=UTC)
>>> stopped = Facts("ebs-volume", "vol-1", "us-east-1", state="in-use",
...                 details={"attached_to": "i-1", "instance_state": "stopped",
...                          "size_gb": 100, "volume_type": "gp3",
...                          "stopped_at": datetime(2026, 11, 1, tzinfo=UTC)})
>>> EbsVolume.judge(stopped, None, now, WasteRules()).reason
'attached to i-1, stopped for 19 days'
>>> EbsVolume.monthly_price(stopped, PriceBook.load())
8.0
>>> stop_date("User initiated (2026-11-01 10:00:00 GMT)")
datetime.datetime(2026, 11, 1, 10, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from spendsense.resources.activity import History
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import (
    OK,
    ClientFactory,
    Facts,
    ResourceKindPlugin,
    SafeAction,
    Verdict,
    WasteRules,
    after_grace,
    aware,
    register,
    tags_of,
)

_STOP_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def stop_date(reason: str) -> datetime | None:
    """The date in an instance's ``StateTransitionReason`` (None when it has none)."""
    found = _STOP_DATE.search(reason or "")
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


@register("ebs-volume")
class EbsVolume(ResourceKindPlugin):
    """An EBS volume, priced per GB-month of its type (provisioned IOPS and throughput are
    not priced)."""

    permissions = ("ec2:DescribeVolumes", "ec2:DescribeInstances")
    actions = (
        SafeAction(
            "snapshot-then-delete",
            ("ec2:CreateSnapshot", "ec2:CreateTags", "ec2:DescribeSnapshots", "ec2:DeleteVolume"),
            ("volume", "snapshot"),
        ),
    )

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        ec2 = client("ec2")
        volumes = [
            v for page in ec2.get_paginator("describe_volumes").paginate() for v in page["Volumes"]
        ]
        attached = sorted({a["InstanceId"] for v in volumes for a in v.get("Attachments") or []})
        instances: dict[str, dict[str, Any]] = {}
        if attached:
            pages = ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": attached}]
            )
            instances = {
                i["InstanceId"]: i
                for page in pages
                for reservation in page["Reservations"]
                for i in reservation["Instances"]
            }
        return [_facts(v, instances, region) for v in volumes]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        volume_type = facts.details.get("volume_type", "")
        return prices.monthly(facts.region, f"ebs:{volume_type}", facts.details.get("size_gb", 0))

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if facts.state == "available":
            return after_grace(
                "unattached", facts.state_since, timedelta(hours=rules.volume_grace_h), now
            )
        instance = facts.details.get("attached_to")
        stopped_at = facts.details.get("stopped_at")
        if facts.details.get("instance_state") != "stopped" or stopped_at is None:
            return OK
        stopped = now - stopped_at
        if stopped <= timedelta(days=rules.stopped_instance_days):
            return OK
        return Verdict(
            waste=True,
            reason=f"attached to {instance}, stopped for {stopped.days} days",
            since=stopped_at,
        )


def _facts(volume: dict[str, Any], instances: dict[str, dict[str, Any]], region: str) -> Facts:
    tags = tags_of(volume)
    attachment = (volume.get("Attachments") or [{}])[0]
    instance = instances.get(attachment.get("InstanceId", ""), {})
    details = {
        "size_gb": int(volume.get("Size", 0)),
        "volume_type": volume.get("VolumeType", ""),
        "attached_to": attachment.get("InstanceId"),
        "instance_state": (instance.get("State") or {}).get("Name"),
        "stopped_at": stop_date(instance.get("StateTransitionReason", ""))
        if (instance.get("State") or {}).get("Name") == "stopped"
        else None,
    }
    return Facts(
        kind="ebs-volume",
        resource_id=volume["VolumeId"],
        region=region,
        state=volume.get("State", ""),
        name=tags.get("Name", ""),
        tags=tags,
        details=details,
        created_at=aware(volume.get("CreateTime")),
    )
