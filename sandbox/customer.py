"""The customer's side of onboarding: create SpendSense's role in a tenant account.

Done as a customer does it, over IAM's API with the account's own ``admin`` key: a role
whose trust policy lets SpendSense's account assume it only with the ExternalId
SpendSense generated, plus a read-only policy and a stop policy attached. Running it
again updates the trust policy (a new ExternalId) and keeps the rest.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sandbox.control import account_credentials

ROLE_NAME = "SpendSenseAccess"
READ_ONLY_ACTIONS = [
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceAttribute",
    "ec2:DescribeRegions",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "ce:GetCostAndUsage",
]
STOP_ACTIONS = ["ec2:StopInstances", "ec2:StartInstances", "ec2:CreateTags"]


def trust_policy(trusted_account_id: str, external_id: str) -> dict[str, Any]:
    """The trust policy AWS's docs give for a third party with an ExternalId.

    >>> trust_policy("210987654321", "ss-1")["Statement"][0]["Condition"]
    {'StringEquals': {'sts:ExternalId': 'ss-1'}}
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{trusted_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def _policy(actions: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )


def _ensure_policy(iam: Any, account_id: str, name: str, actions: list[str]) -> str:
    arn = f"arn:aws:iam::{account_id}:policy/{name}"
    try:
        iam.create_policy(PolicyName=name, PolicyDocument=_policy(actions))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    return arn


def create_spendsense_role(
    endpoint_url: str,
    account_id: str,
    external_id: str,
    trusted_account_id: str,
    role_name: str = ROLE_NAME,
    read_actions: list[str] | None = None,
    stop_actions: list[str] | None = None,
) -> str:
    """Create (or update) SpendSense's role in ``account_id``; returns the role's ARN."""
    key, secret = account_credentials(endpoint_url, account_id)
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    document = json.dumps(trust_policy(trusted_account_id, external_id))
    try:
        arn: str = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=document)["Role"][
            "Arn"
        ]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=document)
        arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    for name, actions in (
        ("SpendSenseReadOnly", read_actions or READ_ONLY_ACTIONS),
        ("SpendSenseStop", stop_actions or STOP_ACTIONS),
    ):
        iam.attach_role_policy(
            RoleName=role_name, PolicyArn=_ensure_policy(iam, account_id, name, actions)
        )
    return arn
