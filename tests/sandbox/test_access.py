"""STS AssumeRole into a sandbox tenant: trust policy and ExternalId enforced as AWS does;
SpendSense reaches it through its service role, the one principal the customer role trusts."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.accounts import TENANT_USER, VENDOR_USER, user_credentials
from tests.fixtures.sandbox import Sandbox

# a role of these tests' own: rotating its ExternalId never breaks another suite's role
ROLE = "SpendSenseTrustTest"


def _service_caller(sandbox: Sandbox) -> str:
    """The ARN STS names SpendSense's service-role session by."""
    return (
        sandbox.service_role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
        + "/spendsense-test"
    )


def _denied(exc: ClientError, caller_arn: str, role_arn: str) -> None:
    assert exc.response["Error"]["Code"] == "AccessDenied"
    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert exc.response["Error"]["Message"] == (
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def test_right_external_id_lands_in_the_tenant_account(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[0]
    role_arn, external_id = sandbox.create_role(tenant, role_name=ROLE)
    session = sandbox.assume(role_arn, external_id)
    identity = sandbox.client("sts", session).get_caller_identity()
    assert identity["Account"] == tenant
    assert identity["Arn"].startswith(f"arn:aws:sts::{tenant}:assumed-role/{ROLE}/")
    ec2 = sandbox.client("ec2", session, region="us-east-1")
    seen = {
        i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    }
    # the fleet's instances of this account and region, none of another tenant's (other
    # suites sharing the sandbox may launch more of their own)
    assert set(sandbox.instances(tenant, "us-east-1")) <= seen
    assert not seen & set(sandbox.instances(sandbox.tenant_account_ids[1]))


@pytest.mark.parametrize("external_id", ["ss-not-the-one", None], ids=["wrong", "missing"])
def test_wrong_or_missing_external_id_is_denied(sandbox: Sandbox, external_id: str | None) -> None:
    role_arn, _ = sandbox.create_role(sandbox.tenant_account_ids[0], role_name=ROLE)
    with pytest.raises(ClientError) as info:
        sandbox.assume(role_arn, external_id)
    _denied(info.value, _service_caller(sandbox), role_arn)


def test_untrusted_caller_and_missing_role_are_denied(sandbox: Sandbox) -> None:
    first, second = sandbox.tenant_account_ids[:2]
    role_arn, external_id = sandbox.create_role(first, role_name=ROLE)
    key, secret = user_credentials(second, TENANT_USER)
    other = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
    )
    with pytest.raises(ClientError) as info:
        sandbox.client("sts", other).assume_role(
            RoleArn=role_arn, RoleSessionName="intruder", ExternalId=external_id
        )
    _denied(info.value, f"arn:aws:iam::{second}:user/admin", role_arn)

    missing = f"arn:aws:iam::{first}:role/NoSuchRole"
    with pytest.raises(ClientError) as info:
        sandbox.assume(missing, external_id)
    _denied(info.value, _service_caller(sandbox), missing)


def test_only_spendsense_service_role_may_assume_the_customer_role(sandbox: Sandbox) -> None:
    """Another principal of SpendSense's own account (its user, with the right ExternalId)
    is refused: the customer role trusts the service role, not the whole account."""
    role_arn, external_id = sandbox.create_role(sandbox.tenant_account_ids[0], role_name=ROLE)
    with pytest.raises(ClientError) as info:
        sandbox.client("sts", sandbox.vendor_session()).assume_role(
            RoleArn=role_arn, RoleSessionName="vendor-user", ExternalId=external_id
        )
    vendor_user = f"arn:aws:iam::{sandbox.vendor_account_id}:user/{VENDOR_USER}"
    _denied(info.value, vendor_user, role_arn)
    session = sandbox.assume(role_arn, external_id)  # the service role: allowed
    identity = sandbox.client("sts", session).get_caller_identity()
    assert identity["Account"] == sandbox.tenant_account_ids[0]


def test_a_new_external_id_replaces_the_old_one(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[1]
    role_arn, old = sandbox.create_role(tenant, role_name=ROLE)
    _, new = sandbox.create_role(tenant, role_name=ROLE)
    assert (
        sandbox.client("sts", sandbox.assume(role_arn, new)).get_caller_identity()["Account"]
        == tenant
    )
    with pytest.raises(ClientError):
        sandbox.assume(role_arn, old)


def test_seeded_instances_carry_the_fleet_attributes(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[0]
    role_arn, external_id = sandbox.create_role(tenant, role_name=ROLE)
    for region in sorted({i.region for i in sandbox.fleet.instances.values()}):
        ec2 = sandbox.client("ec2", sandbox.assume(role_arn, external_id, region), region=region)
        described = {
            i["InstanceId"]: i
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        }
        assert set(sandbox.instances(tenant, region)) <= set(described)
        for iid in sandbox.instances(tenant, region):
            got, want = described[iid], sandbox.fleet.instances[iid]
            assert got["InstanceType"] == want.instance_type
            assert got["RootDeviceType"] == want.root_device_type
            assert got.get("InstanceLifecycle", "on-demand") == (
                "spot" if want.lifecycle == "spot" else "on-demand"
            )
            assert want.tags.items() <= {t["Key"]: t["Value"] for t in got.get("Tags", [])}.items()
            assert got["LaunchTime"].timestamp() == want.launch_time.timestamp() + sandbox.shift()
