"""EBS snapshots whose volume is gone and that no AMI of the account references, older than
a retention the customer chooses (30 days by default).

Priced at its volume's full size per snapshot GB-month: an upper bound, since snapshots are
incremental and AWS bills only the blocks they hold. A snapshot SpendSense took before
deleting a volume carries ``spendsense:backup-of`` and is the customer's backup, not waste.

>>> from datetime import UTC
>>> now = datetime(2026, 11, 20, tzinfo=UTC)
>>> orphan = Facts("ebs-snapshot", "snap-1", "us-east-1", state="completed",
...                details={"volume_exists": False, "ami_ids": [], "size_gb": 8},
...                created_at=datetime(2026, 10, 1, tzinfo=UTC))
>>> EbsSnapshot.judge(orphan, None, now, WasteRules()).reason
'volume and AMIs gone, 50 days old'
>>> EbsSnapshot.monthly_price(orphan, PriceBook.load())
0.4
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
    aware,
    register,
    tags_of,
)

BACKUP_TAG = "spendsense:backup-of"
COPY_VOLUME_ID = "vol-ffffffff"
"""The volume id AWS gives a snapshot made by CopySnapshot (a cross-region or cross-account
copy, usually disaster recovery): it never existed, so "its volume is gone" says nothing."""
AWS_BACKUP_TAG_PREFIX = "aws:backup:"
"""Snapshots AWS Backup manages (its recovery points): kept by its plan, deleted by it."""


@register("ebs-snapshot")
class EbsSnapshot(ResourceKindPlugin):
    """A snapshot the account owns."""

    permissions = ("ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeImages")
    actions = (SafeAction("delete", ("ec2:DeleteSnapshot",), ("snapshot",)),)

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        ec2 = client("ec2")
        volumes = {
            v["VolumeId"]
            for page in ec2.get_paginator("describe_volumes").paginate()
            for v in page["Volumes"]
        }
        used_by: dict[str, list[str]] = {}
        for image in ec2.describe_images(Owners=["self"])["Images"]:
            for mapping in image.get("BlockDeviceMappings") or []:
                snap = (mapping.get("Ebs") or {}).get("SnapshotId")
                if snap:
                    used_by.setdefault(snap, []).append(image["ImageId"])
        # the account's own only (OwnerIds is not honoured everywhere: moto lists the
        # snapshots of its public AMIs too)
        account = client("sts").get_caller_identity()["Account"]
        pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
        return [
            _facts(s, s.get("VolumeId") in volumes, used_by.get(s["SnapshotId"], []), region)
            for page in pages
            for s in page["Snapshots"]
            if s.get("OwnerId", account) == account
        ]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        return prices.monthly(facts.region, "ebs-snapshot", facts.details.get("size_gb", 0))

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if (
            facts.details.get("volume_exists")
            or facts.details.get("ami_ids")
            or BACKUP_TAG in facts.tags
            or facts.details.get("volume_id") == COPY_VOLUME_ID
            or any(k.startswith(AWS_BACKUP_TAG_PREFIX) for k in facts.tags)
            or facts.created_at is None
        ):
            return OK
        age = now - facts.created_at
        retention = timedelta(days=rules.snapshot_retention_days)
        since = facts.created_at + retention
        if age <= retention:
            return Verdict(
                provisional=True, reason="volume and AMIs gone, within retention", since=since
            )
        return Verdict(waste=True, reason=f"volume and AMIs gone, {age.days} days old", since=since)


def _facts(snapshot: dict[str, Any], volume_exists: bool, ami_ids: list[str], region: str) -> Facts:
    tags = tags_of(snapshot)
    return Facts(
        kind="ebs-snapshot",
        resource_id=snapshot["SnapshotId"],
        region=region,
        state=snapshot.get("State", ""),
        name=tags.get("Name", ""),
        tags=tags,
        details={
            "volume_id": snapshot.get("VolumeId"),
            "volume_exists": volume_exists,
            "ami_ids": ami_ids,
            "size_gb": int(snapshot.get("VolumeSize", 0)),
        },
        created_at=aware(snapshot.get("StartTime")),
    )
