"""The customer role enforces SpendSense's rails itself: its documents, as IAM evaluates them
(sandbox.iam_policy), refuse what SpendSense's code must never do, whatever that code does."""

from __future__ import annotations

import pytest

from api.customer_permissions import declared
from sandbox.iam_policy import Decision, Request, evaluate
from sandbox.trust import Caller, allows
from spendsense.customer_role import RoleSetup

VENDOR = "210987654321"
CUSTOMER = "111111111111"
SETUP = RoleSetup(vendor_account_id=VENDOR, external_id="ss-external-id", permissions=declared())
POLICIES = [SETUP.read_only_policy(), SETUP.stop_policy(CUSTOMER)]
INSTANCE = f"arn:aws:ec2:us-east-1:{CUSTOMER}:instance/i-0abc1234def567890"


def _decide(action: str, resource: str = INSTANCE, **context: str | list[str]) -> Decision:
    return evaluate(POLICIES, Request(action, resource, context))


@pytest.mark.parametrize("action", ["ec2:StopInstances", "ec2:StartInstances"])
@pytest.mark.parametrize("value", ["true", "", "no"])
def test_a_stop_of_a_protected_instance_is_denied_by_the_policy_alone(
    action: str, value: str
) -> None:
    """Any value of the protect tag: an explicit Deny, which no other grant can override."""
    assert _decide(action, **{"aws:ResourceTag/spendsense:protect": value}) == "deny"


@pytest.mark.parametrize("action", ["ec2:StopInstances", "ec2:StartInstances"])
def test_a_stop_of_an_unprotected_instance_is_allowed_on_the_accounts_instances_only(
    action: str,
) -> None:
    assert _decide(action, **{"aws:ResourceTag/team": "data"}) == "allow"
    assert _decide(action, f"arn:aws:ec2:eu-west-1:{CUSTOMER}:instance/i-1") == "allow"
    assert _decide(action, "arn:aws:ec2:us-east-1:222222222222:instance/i-1") == "implicit-deny"
    assert _decide(action, f"arn:aws:ec2:us-east-1:{CUSTOMER}:volume/vol-1") == "implicit-deny"


def test_tagging_a_non_spendsense_key_is_denied() -> None:
    for action in ("ec2:CreateTags", "ec2:DeleteTags"):
        assert _decide(action, **{"aws:TagKeys": ["spendsense:stop-after"]}) == "allow"
        assert _decide(action, **{"aws:TagKeys": ["Name"]}) == "implicit-deny"
        assert _decide(action, **{"aws:TagKeys": ["spendsense:x", "owner"]}) == "implicit-deny"
    volume = f"arn:aws:ec2:us-east-1:{CUSTOMER}:volume/vol-1"
    assert _decide("ec2:CreateTags", volume, **{"aws:TagKeys": ["spendsense:x"]}) != "allow"


def test_removing_the_protect_tag_is_denied() -> None:
    assert _decide("ec2:DeleteTags", **{"aws:TagKeys": ["spendsense:protect"]}) == "deny"
    both = ["spendsense:stop-after", "spendsense:protect"]
    assert _decide("ec2:DeleteTags", **{"aws:TagKeys": both}) == "deny"
    # DeleteTags without keys removes every tag, the protect tag among them
    assert _decide("ec2:DeleteTags") == "deny"
    # adding protection stays possible
    assert _decide("ec2:CreateTags", **{"aws:TagKeys": ["spendsense:protect"]}) == "allow"


def test_the_role_grants_nothing_else() -> None:
    for action in ("ec2:TerminateInstances", "ec2:ModifyInstanceAttribute", "iam:PassRole"):
        assert _decide(action) == "implicit-deny"
    assert _decide("ec2:DescribeInstanceTypes", "*") == "allow"
    assert evaluate([SETUP.read_only_policy()], Request("ec2:StopInstances", INSTANCE)) == (
        "implicit-deny"
    )


SERVICE_ROLE = f"arn:aws:iam::{VENDOR}:role/SpendSenseService"


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        (
            Caller(VENDOR, f"arn:aws:sts::{VENDOR}:assumed-role/SpendSenseService/s", SERVICE_ROLE),
            True,
        ),
        (Caller(VENDOR, f"arn:aws:iam::{VENDOR}:user/spendsense"), False),
        (Caller(VENDOR, f"arn:aws:iam::{VENDOR}:root"), False),
        (
            Caller(
                VENDOR,
                f"arn:aws:sts::{VENDOR}:assumed-role/Other/s",
                f"arn:aws:iam::{VENDOR}:role/Other",
            ),
            False,
        ),
        (
            Caller(
                "999999999999",
                "arn:aws:sts::999999999999:assumed-role/SpendSenseService/s",
                "arn:aws:iam::999999999999:role/SpendSenseService",
            ),
            False,
        ),
    ],
    ids=["service-role", "vendor-user", "vendor-root", "other-vendor-role", "other-account"],
)
def test_only_the_service_role_may_assume_it(caller: Caller, allowed: bool) -> None:
    trust = SETUP.trust_policy()
    assert allows(trust, caller, SETUP.external_id) is allowed
    assert not allows(trust, caller, "ss-wrong")
    assert not allows(trust, caller, None)
