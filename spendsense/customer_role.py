"""The role a customer creates so SpendSense can read their account (and stop idle instances).

Everything here is built from what the registries declare: the read-only policy
from the collectors (``ingest.registry``), the stop policy from the actions that run in
the customer's account (``actions.registry``). The two are separate policies so a
customer can grant reading without stopping. The role trusts SpendSense's own AWS
account on the condition ``sts:ExternalId`` equals the id SpendSense generated.

Rendered three ways: IAM policy documents, a CloudFormation template (with the
console's quick-create link) and a Terraform snippet.

>>> setup = RoleSetup(vendor_account_id="210987654321", external_id="abc-123")
>>> setup.trust_policy()["Statement"][0]["Condition"]
{'StringEquals': {'sts:ExternalId': 'abc-123'}}
>>> "ec2:StopInstances" in setup.stop_actions(), "ec2:StopInstances" in setup.read_only_actions()
(True, False)
>>> "cloudwatch:GetMetricData" in setup.read_only_actions()
True
>>> "ses:SendRawEmail" in setup.stop_actions() + setup.read_only_actions()
False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

DEFAULT_ROLE_NAME = "SpendSense"
STACK_NAME = "SpendSenseAccess"
IAM_VERSION = "2012-10-17"


def read_only_permissions() -> list[str]:
    """Every IAM action a registered collector declares."""
    from ingest.registry import load_collectors

    return load_collectors().permissions()


def stop_permissions() -> list[str]:
    """IAM actions the customer-account actions declare, less those the read-only policy grants."""
    from actions.registry import customer_permissions

    read = set(read_only_permissions())
    return [p for p in customer_permissions() if p not in read]


def _policy(sid: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Version": IAM_VERSION,
        "Statement": [{"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"}],
    }


@dataclass(frozen=True)
class RoleSetup:
    """One customer account's role: SpendSense's account, the ExternalId, the role's name."""

    vendor_account_id: str
    external_id: str
    role_name: str = DEFAULT_ROLE_NAME

    def read_only_actions(self) -> list[str]:
        return read_only_permissions()

    def stop_actions(self) -> list[str]:
        return stop_permissions()

    def trust_policy(self) -> dict[str, Any]:
        """Who may assume the role: SpendSense's account, with this ExternalId only."""
        return {
            "Version": IAM_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.vendor_account_id}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": self.external_id}},
                }
            ],
        }

    def read_only_policy(self) -> dict[str, Any]:
        return _policy("SpendSenseReadOnly", self.read_only_actions())

    def stop_policy(self) -> dict[str, Any]:
        return _policy("SpendSenseStopIdle", self.stop_actions())

    def role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.role_name}"

    def cloudformation(self) -> dict[str, Any]:
        """A CloudFormation template: the role, its read-only policy and (optional) stop policy.

        >>> t = RoleSetup("210987654321", "abc-123").cloudformation()
        >>> sorted(t["Resources"]), t["Parameters"]["ExternalId"]["Default"]
        (['ReadOnlyPolicy', 'Role', 'StopPolicy'], 'abc-123')
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
            },
            "Conditions": {"StopAllowed": {"Fn::Equals": [{"Ref": "AllowStop"}, "true"]}},
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
                        "PolicyDocument": self.stop_policy(),
                        "Roles": [{"Ref": "Role"}],
                    },
                },
            },
            "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
        }

    def console_url(self, template_url: str, region: str = "us-east-1") -> str:
        """The AWS console's quick-create link that launches the template with this ExternalId.

        >>> url = RoleSetup("210987654321", "a/b").console_url("https://t.example/r.json")
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

        return f"""variable "spendsense_external_id" {{
  type    = string
  default = "{self.external_id}"
}}

resource "aws_iam_role" "spendsense" {{
  name                 = "{self.role_name}"
  max_session_duration = 3600
  assume_role_policy   = jsonencode({{
    Version = "{IAM_VERSION}"
    Statement = [{{
      Effect    = "Allow"
      Principal = {{ AWS = "arn:aws:iam::{self.vendor_account_id}:root" }}
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

# Stop: remove this resource to let SpendSense alert without ever stopping.
resource "aws_iam_role_policy" "spendsense_stop" {{
  name   = "SpendSenseStopIdle"
  role   = aws_iam_role.spendsense.id
  policy = <<-JSON
  {doc(self.stop_policy())}
  JSON
}}

output "spendsense_role_arn" {{
  value = aws_iam_role.spendsense.arn
}}
"""
