"""The customer's side of onboarding: create SpendSense's role in a tenant account.

Done as a customer does it, over IAM's API with the account's own ``admin`` key, with
the documents SpendSense shows them (:class:`spendsense.customer_role.RoleSetup`): a role
whose trust policy lets SpendSense's service role assume it only with the ExternalId
SpendSense generated, and its read-only and stop policies (inline, as the CloudFormation
and Terraform set-ups put them). Running it again updates the trust policy (a new
ExternalId) and the policies.
"""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import ClientError

from sandbox.control import account_credentials
from spendsense.customer_role import RolePermissions, RoleSetup
from spendsense.settings import DEFAULT_SERVICE_ROLE_NAME

ROLE_NAME = "SpendSenseAccess"


def create_spendsense_role(
    endpoint_url: str,
    account_id: str,
    external_id: str,
    vendor_account_id: str,
    permissions: RolePermissions,
    role_name: str = ROLE_NAME,
    service_role_name: str = DEFAULT_SERVICE_ROLE_NAME,
) -> str:
    """Create (or update) SpendSense's role in ``account_id``, granting ``permissions`` (the
    lists SpendSense declares: ``api.customer_permissions.declared``); returns its ARN."""
    setup = RoleSetup(
        vendor_account_id=vendor_account_id,
        external_id=external_id,
        permissions=permissions,
        role_name=role_name,
        service_role_name=service_role_name,
    )
    key, secret = account_credentials(endpoint_url, account_id)
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    document = json.dumps(setup.trust_policy())
    try:
        arn: str = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=document)["Role"][
            "Arn"
        ]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=document)
        arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    for name, policy in (
        ("SpendSenseReadOnly", setup.read_only_policy()),
        ("SpendSenseStopIdle", setup.stop_policy(account_id)),
        ("SpendSenseWasteActions", setup.waste_policy(account_id)),
    ):
        iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return arn
