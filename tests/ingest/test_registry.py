"""The customer role's policy is derived from the collector registry, and is read-only."""

from __future__ import annotations

import re

from api import customer_permissions
from ingest.registry import Collector, load_collectors
from spendsense.customer_role import RoleSetup

READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]+$")


def test_every_collector_is_registered_with_its_permissions() -> None:
    registry = load_collectors()
    assert list(registry) == ["cloudwatch", "cost-explorer", "inventory", "resources"]
    for name, cls in registry.items():
        assert issubclass(cls, Collector)
        assert cls.name == name
        assert cls.permissions, f"{name} declares no IAM actions"


def test_policy_is_the_union_of_declared_permissions_and_read_only() -> None:
    policy = RoleSetup("210987654321", "x", customer_permissions.declared()).read_only_policy()
    (statement,) = policy["Statement"]
    declared = {p for _, cls in load_collectors().items() for p in cls.permissions}
    assert set(statement["Action"]) == declared
    assert statement["Effect"] == "Allow"
    assert all(READ_ONLY.match(a) for a in statement["Action"]), statement["Action"]
    assert {"ec2:DescribeInstances", "cloudwatch:GetMetricData", "ce:GetCostAndUsage"} <= declared
