"""The role a customer creates so SpendSense can read their account (and stop idle instances).

Everything here is built from the permission lists it is given
(:class:`RolePermissions`), which the callers take from what the registries declare
(``api.customer_permissions.declared``): the read-only policy from the collectors, the
stop policy from the actions that run in the customer's account, the waste policy from the
resource kinds' safe actions (``spendsense.resources``). They are separate policies so a
customer can grant reading without stopping, and stopping without deleting.

The role enforces SpendSense's rails itself, whatever SpendSense's code does:

- it trusts SpendSense's *service role* (``SPENDSENSE_AWS__SERVICE_ROLE_NAME`` in
  SpendSense's account: the role its processes run as), not the whole account, and only
  with the ``sts:ExternalId`` SpendSense generated for this customer;
- the stop policy's reads (``Describe*``, ``Get*``, ``List*``) apply to every resource,
  as EC2's describe calls require; every other action it declares (stop and start) only
  to the account's instances, and an explicit ``Deny`` refuses it on a resource that
  carries the ``spendsense:protect`` tag, whatever value it has;
- the waste policy guards the kinds' actions as the stop policy guards stop: each only on the
  account's resources of its type (volumes, snapshots, Elastic IPs, NAT gateways, load
  balancers, DB instances: :data:`RESOURCE_ARNS`) and never on one tagged
  ``spendsense:protect``; its tagging only with ``spendsense:*`` keys;
- tagging (``ec2:CreateTags``, ``ec2:DeleteTags``) only touches ``spendsense:*`` keys
  (``aws:TagKeys``), never removes ``spendsense:protect`` and never removes every tag at
  once (``DeleteTags`` without keys).

Rendered three ways: IAM policy documents, a CloudFormation template (with the
console's quick-create link) and a Terraform snippet.

>>> grants = RolePermissions(
...     read=("cloudwatch:GetMetricData", "ec2:DescribeInstances"),
...     act=("ec2:CreateTags", "ec2:DeleteTags", "ec2:DescribeInstanceTypes",
...          "ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances"),
... )
>>> setup = RoleSetup(vendor_account_id="210987654321", external_id="abc-123", permissions=grants)
>>> setup.trust_policy()["Statement"][0]["Principal"]
{'AWS': 'arn:aws:iam::210987654321:role/SpendSenseService'}
>>> setup.trust_policy()["Statement"][0]["Condition"]
{'StringEquals': {'sts:ExternalId': 'abc-123'}}
>>> "ec2:StopInstances" in setup.stop_actions(), "ec2:StopInstances" in setup.read_only_actions()
(True, False)
>>> "cloudwatch:GetMetricData" in setup.read_only_actions()
True
>>> "ses:SendRawEmail" in setup.stop_actions() + setup.read_only_actions()
False
>>> [s["Sid"] for s in setup.stop_policy("111111111111")["Statement"]]
['SpendSenseDescribe', 'SpendSenseStopStart', 'SpendSenseNeverProtected', 'SpendSenseOwnTagsOnly', 'SpendSenseKeepProtectTag', 'SpendSenseNoUntagAll']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from spendsense.settings import DEFAULT_SERVICE_ROLE_NAME

DEFAULT_ROLE_NAME = "SpendSense"
STACK_NAME = "SpendSenseAccess"
IAM_VERSION = "2012-10-17"
PROTECT_TAG = "spendsense:protect"
OWN_TAGS = "spendsense:*"
DELETE_TAGS = "ec2:DeleteTags"
READ_VERBS = ("Describe", "Get", "List")

RESOURCE_ARNS = {
    "instance": "arn:{partition}:ec2:*:{account}:instance/*",
    "volume": "arn:{partition}:ec2:*:{account}:volume/*",
    "snapshot": "arn:{partition}:ec2:*::snapshot/*",
    "elastic-ip": "arn:{partition}:ec2:*:{account}:elastic-ip/*",
    "natgateway": "arn:{partition}:ec2:*:{account}:natgateway/*",
    "loadbalancer": "arn:{partition}:elasticloadbalancing:*:{account}:loadbalancer/*",
    "db": "arn:{partition}:rds:*:{account}:db:*",
}
"""The account's resources of each type an action may touch, as ARN patterns (snapshot ARNs
carry no account: an account can only delete the snapshots it owns)."""
TAG_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags", "elasticloadbalancing:AddTags")
ArnOf = Callable[[str], Any]
"""An ARN pattern by resource type, as one rendering (IAM JSON, CloudFormation, Terraform)
writes it."""


def cfn_arn(kind: str) -> Any:
    """The account's resources of ``kind`` as the CloudFormation template names them.

    >>> cfn_arn("instance")
    {'Fn::Sub': 'arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*'}
    """
    return {
        "Fn::Sub": RESOURCE_ARNS[kind].format(
            partition="${AWS::Partition}", account="${AWS::AccountId}"
        )
    }


def tf_arn(kind: str) -> str:
    """The account's resources of ``kind`` as the Terraform snippet names them."""
    return RESOURCE_ARNS[kind].format(
        partition="${data.aws_partition.current.partition}",
        account="${data.aws_caller_identity.current.account_id}",
    )


CFN_INSTANCES = cfn_arn("instance")
"""The account's instances, as the CloudFormation template names them."""
TF_INSTANCES = tf_arn("instance")
"""The account's instances, as the Terraform snippet names them."""


@dataclass(frozen=True)
class RolePermissions:
    """The IAM actions the role grants: what the collectors read (``read``) and what the
    actions run in the customer's account need (``act``).

    >>> RolePermissions(read=("ec2:DescribeInstances",),
    ...                 act=("ec2:DescribeInstances", "ec2:StopInstances")).stop
    ['ec2:StopInstances']
    """

    read: tuple[str, ...]
    act: tuple[str, ...]
    waste: tuple[tuple[str, str], ...] = ()
    """What the resource kinds' actions need: (IAM action, resource type of
    :data:`RESOURCE_ARNS`) pairs, granted by the separate waste policy."""

    @property
    def stop(self) -> list[str]:
        """The actions' permissions less those the read-only policy grants already."""
        read = set(self.read)
        return [p for p in self.act if p not in read]


def instance_arn(account_id: str) -> str:
    """Every EC2 instance of ``account_id``, in any region.

    >>> instance_arn("111111111111")
    'arn:aws:ec2:*:111111111111:instance/*'
    """
    return f"arn:aws:ec2:*:{account_id}:instance/*"


@dataclass(frozen=True)
class StopGrants:
    """The stop policy's actions, grouped by how the policy guards them.

    >>> StopGrants.of(["ec2:CreateTags", "ec2:DescribeInstanceTypes", "ec2:StopInstances"])
    StopGrants(reads=['ec2:DescribeInstanceTypes'], instance=['ec2:StopInstances'], tagging=['ec2:CreateTags'])
    """

    reads: list[str]
    """On every resource: EC2's describe calls take no resource ARN."""
    instance: list[str]
    """On the account's instances only, and never on a protected one."""
    tagging: list[str]
    """On the account's instances, ``spendsense:*`` keys only, never removing the protect tag."""

    @classmethod
    def of(cls, actions: list[str]) -> StopGrants:
        return cls(
            reads=[a for a in actions if _is_read(a)],
            instance=[a for a in actions if not _is_read(a) and a not in TAG_ACTIONS],
            tagging=[a for a in actions if a in TAG_ACTIONS],
        )


def stop_policy_document(grants: StopGrants, instances: Any) -> dict[str, Any]:
    """The stop policy; ``instances`` names the account's instances (an ARN pattern, or
    the template language's expression for one). Statements without actions are left out."""
    deletes = [a for a in grants.tagging if a == DELETE_TAGS]
    statements: list[dict[str, Any]] = [
        {"Sid": "SpendSenseDescribe", "Effect": "Allow", "Action": grants.reads, "Resource": "*"},
        {
            "Sid": "SpendSenseStopStart",
            "Effect": "Allow",
            "Action": grants.instance,
            "Resource": instances,
        },
        {
            "Sid": "SpendSenseNeverProtected",
            "Effect": "Deny",
            "Action": grants.instance,
            "Resource": "*",
            "Condition": {"Null": {f"aws:ResourceTag/{PROTECT_TAG}": "false"}},
        },
        {
            "Sid": "SpendSenseOwnTagsOnly",
            "Effect": "Allow",
            "Action": grants.tagging,
            "Resource": instances,
            "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": [OWN_TAGS]}},
        },
        {
            "Sid": "SpendSenseKeepProtectTag",
            "Effect": "Deny",
            "Action": deletes,
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": [PROTECT_TAG]}},
        },
        {
            "Sid": "SpendSenseNoUntagAll",
            "Effect": "Deny",
            "Action": deletes,
            "Resource": "*",
            "Condition": {"Null": {"aws:TagKeys": "true"}},
        },
    ]
    return {"Version": IAM_VERSION, "Statement": [s for s in statements if s["Action"]]}


@dataclass(frozen=True)
class WasteGrants:
    """The waste policy's actions (the resource kinds' safe actions), grouped as the policy
    guards them: reads on every resource; each other action on the account's resources of its
    types only, and (tagging aside) never on one tagged ``spendsense:protect``; tagging with
    ``spendsense:*`` keys only.

    >>> g = WasteGrants.of([("ec2:DeleteVolume", "volume"), ("ec2:DescribeSnapshots", "volume"),
    ...                     ("ec2:CreateTags", "natgateway")], granted=())
    >>> g.reads, g.acting, g.tagging
    (['ec2:DescribeSnapshots'], [(('volume',), ['ec2:DeleteVolume'])], (('natgateway',), ['ec2:CreateTags']))
    """

    reads: list[str]
    acting: list[tuple[tuple[str, ...], list[str]]]
    tagging: tuple[tuple[str, ...], list[str]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]], granted: Iterable[str]) -> WasteGrants:
        """Grouped from (action, resource type) pairs; reads in ``granted`` (the read-only
        policy's) are left out."""
        types: dict[str, set[str]] = {}
        for action, kind in pairs:
            types.setdefault(action, set()).add(kind)
        done = set(granted)
        reads = sorted(a for a in types if _is_read(a) and a not in done)
        groups: dict[tuple[str, ...], list[str]] = {}
        tag_types: set[str] = set()
        tags = []
        for action in sorted(types):
            if _is_read(action):
                continue
            if action in TAG_ACTIONS:
                tags.append(action)
                tag_types |= types[action]
            else:
                groups.setdefault(tuple(sorted(types[action])), []).append(action)
        return cls(reads, sorted(groups.items()), (tuple(sorted(tag_types)), tags))

    @property
    def guarded(self) -> list[str]:
        """Every action the protect tag denies."""
        return sorted(a for _, actions in self.acting for a in actions)


def _is_read(action: str) -> bool:
    return action.partition(":")[2].startswith(READ_VERBS)


def _arns(kinds: tuple[str, ...], arn_of: ArnOf) -> Any:
    return arn_of(kinds[0]) if len(kinds) == 1 else [arn_of(k) for k in kinds]


def waste_sid(kinds: tuple[str, ...]) -> str:
    """The statement id of the actions on ``kinds``.

    >>> waste_sid(("snapshot", "volume")), waste_sid(("elastic-ip",))
    ('SpendSenseWasteSnapshotVolume', 'SpendSenseWasteElasticIp')
    """
    return "SpendSenseWaste" + "".join(p.title() for k in kinds for p in k.split("-"))


def waste_policy_document(grants: WasteGrants, arn_of: ArnOf) -> dict[str, Any]:
    """The waste policy; ``arn_of`` renders a resource type's ARN pattern. Statements without
    actions are left out."""
    tag_types, tags = grants.tagging
    statements: list[dict[str, Any]] = [
        {
            "Sid": "SpendSenseWasteDescribe",
            "Effect": "Allow",
            "Action": grants.reads,
            "Resource": "*",
        },
        *(
            {
                "Sid": waste_sid(kinds),
                "Effect": "Allow",
                "Action": actions,
                "Resource": _arns(kinds, arn_of),
            }
            for kinds, actions in grants.acting
        ),
        {
            "Sid": "SpendSenseWasteNeverProtected",
            "Effect": "Deny",
            "Action": grants.guarded,
            "Resource": "*",
            "Condition": {"Null": {f"aws:ResourceTag/{PROTECT_TAG}": "false"}},
        },
    ]
    if tags:
        statements.append(
            {
                "Sid": "SpendSenseWasteOwnTagsOnly",
                "Effect": "Allow",
                "Action": tags,
                "Resource": _arns(tag_types, arn_of),
                "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": [OWN_TAGS]}},
            }
        )
    return {"Version": IAM_VERSION, "Statement": [s for s in statements if s["Action"]]}


@dataclass(frozen=True)
class RoleSetup:
    """One customer account's role: SpendSense's account and service role, the ExternalId,
    the role's name."""

    vendor_account_id: str
    external_id: str
    permissions: RolePermissions
    role_name: str = DEFAULT_ROLE_NAME
    service_role_name: str = DEFAULT_SERVICE_ROLE_NAME

    @property
    def service_role_arn(self) -> str:
        """The only principal the role trusts: SpendSense's service role."""
        return f"arn:aws:iam::{self.vendor_account_id}:role/{self.service_role_name}"

    def read_only_actions(self) -> list[str]:
        return list(self.permissions.read)

    def stop_actions(self) -> list[str]:
        return self.permissions.stop

    def stop_grants(self) -> StopGrants:
        return StopGrants.of(self.stop_actions())

    def trust_policy(self) -> dict[str, Any]:
        """Who may assume the role: SpendSense's service role, with this ExternalId only."""
        return {
            "Version": IAM_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": self.service_role_arn},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": self.external_id}},
                }
            ],
        }

    def read_only_policy(self) -> dict[str, Any]:
        return {
            "Version": IAM_VERSION,
            "Statement": [
                {
                    "Sid": "SpendSenseReadOnly",
                    "Effect": "Allow",
                    "Action": self.read_only_actions(),
                    "Resource": "*",
                }
            ],
        }

    def stop_policy(self, account_id: str) -> dict[str, Any]:
        """The stop policy for the role in ``account_id``."""
        return stop_policy_document(self.stop_grants(), instance_arn(account_id))

    def waste_grants(self) -> WasteGrants:
        return WasteGrants.of(self.permissions.waste, self.permissions.read)

    def waste_actions(self) -> list[str]:
        """Every action the waste policy allows."""
        grants = self.waste_grants()
        return sorted(grants.reads + grants.guarded + grants.tagging[1])

    def waste_policy(self, account_id: str) -> dict[str, Any]:
        """The waste policy for the role in ``account_id``: the resource kinds' actions."""
        return waste_policy_document(
            self.waste_grants(),
            lambda kind: RESOURCE_ARNS[kind].format(partition="aws", account=account_id),
        )

    def role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.role_name}"

    def cloudformation(self) -> dict[str, Any]:
        """A CloudFormation template: the role, its read-only policy and (optional) stop policy.

        >>> t = RoleSetup("210987654321", "abc-123", RolePermissions((), ())).cloudformation()
        >>> sorted(t["Resources"]), t["Parameters"]["ExternalId"]["Default"]
        (['ReadOnlyPolicy', 'Role', 'StopPolicy', 'WastePolicy'], 'abc-123')
        """
        trust = self.trust_policy()
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = {"Ref": "ExternalId"}
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Lets SpendSense read EC2, CloudWatch and Cost Explorer data and "
            "(optionally) stop idle EC2 instances in this account.",
            "Parameters": {
                "ExternalId": {
                    "Type": "String",
                    "Default": self.external_id,
                    "Description": "The ExternalId SpendSense generated for this account.",
                },
                "RoleName": {"Type": "String", "Default": self.role_name},
                "AllowStop": {
                    "Type": "String",
                    "AllowedValues": ["true", "false"],
                    "Default": "true",
                    "Description": "Let SpendSense stop (and start again) idle instances.",
                },
                "AllowWasteActions": {
                    "Type": "String",
                    "AllowedValues": ["true", "false"],
                    "Default": "true",
                    "Description": "Let SpendSense act on unused volumes, snapshots, Elastic IPs, "
                    "NAT gateways, load balancers and databases (each action as you confirm or "
                    "your policy allows).",
                },
            },
            "Conditions": {
                "StopAllowed": {"Fn::Equals": [{"Ref": "AllowStop"}, "true"]},
                "WasteActionsAllowed": {"Fn::Equals": [{"Ref": "AllowWasteActions"}, "true"]},
            },
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": {"Ref": "RoleName"},
                        "AssumeRolePolicyDocument": trust,
                        "MaxSessionDuration": 3600,
                    },
                },
                "ReadOnlyPolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyName": "SpendSenseReadOnly",
                        "PolicyDocument": self.read_only_policy(),
                        "Roles": [{"Ref": "Role"}],
                    },
                },
                "StopPolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Condition": "StopAllowed",
                    "Properties": {
                        "PolicyName": "SpendSenseStopIdle",
                        "PolicyDocument": stop_policy_document(self.stop_grants(), CFN_INSTANCES),
                        "Roles": [{"Ref": "Role"}],
                    },
                },
                "WastePolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Condition": "WasteActionsAllowed",
                    "Properties": {
                        "PolicyName": "SpendSenseWasteActions",
                        "PolicyDocument": waste_policy_document(self.waste_grants(), cfn_arn),
                        "Roles": [{"Ref": "Role"}],
                    },
                },
            },
            "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
        }

    def console_url(self, template_url: str, region: str = "us-east-1") -> str:
        """The AWS console's quick-create link that launches the template with this ExternalId.

        >>> url = RoleSetup("2109", "a/b", RolePermissions((), ())).console_url("https://t.example/r.json")
        >>> url.split("#")[1].split("?")[0], "param_ExternalId=a%2Fb" in url
        ('/stacks/quickcreate', True)
        """
        query = urlencode(
            {
                "templateURL": template_url,
                "stackName": STACK_NAME,
                "param_ExternalId": self.external_id,
                "param_RoleName": self.role_name,
            }
        )
        return (
            f"https://console.aws.amazon.com/cloudformation/home?region={region}"
            f"#/stacks/quickcreate?{query}"
        )

    def terraform(self) -> str:
        """A Terraform snippet creating the same role and the two policies."""

        def doc(policy: dict[str, Any]) -> str:
            return json.dumps(policy, indent=2).replace("\n", "\n  ")

        stop = stop_policy_document(self.stop_grants(), TF_INSTANCES)
        waste = waste_policy_document(self.waste_grants(), tf_arn)
        return f"""variable "spendsense_external_id" {{
  type    = string
  default = "{self.external_id}"
}}

data "aws_caller_identity" "current" {{}}
data "aws_partition" "current" {{}}

resource "aws_iam_role" "spendsense" {{
  name                 = "{self.role_name}"
  max_session_duration = 3600
  assume_role_policy   = jsonencode({{
    Version = "{IAM_VERSION}"
    Statement = [{{
      Effect    = "Allow"
      Principal = {{ AWS = "{self.service_role_arn}" }}
      Action    = "sts:AssumeRole"
      Condition = {{ StringEquals = {{ "sts:ExternalId" = var.spendsense_external_id }} }}
    }}]
  }})
}}

# Read-only: what the collectors read.
resource "aws_iam_role_policy" "spendsense_read_only" {{
  name   = "SpendSenseReadOnly"
  role   = aws_iam_role.spendsense.id
  policy = <<-JSON
  {doc(self.read_only_policy())}
  JSON
}}

# Stop: remove this resource to let SpendSense alert without ever stopping. Stop and
# start only this account's instances, never one tagged {PROTECT_TAG}; tag {OWN_TAGS} only.
resource "aws_iam_role_policy" "spendsense_stop" {{
  name   = "SpendSenseStopIdle"
  role   = aws_iam_role.spendsense.id
  policy = <<-JSON
  {doc(stop)}
  JSON
}}

# Waste: remove this resource to let SpendSense report unused volumes, snapshots, Elastic
# IPs, NAT gateways, load balancers and databases without acting on them. Only this
# account's resources, never one tagged {PROTECT_TAG}; tag {OWN_TAGS} only.
resource "aws_iam_role_policy" "spendsense_waste" {{
  name   = "SpendSenseWasteActions"
  role   = aws_iam_role.spendsense.id
  policy = <<-JSON
  {doc(waste)}
  JSON
}}

output "spendsense_role_arn" {{
  value = aws_iam_role.spendsense.arn
}}
"""
