"""ExternalIds and the mapping of AWS errors to messages an account owner can act on."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from spendsense.access import (
    EXTERNAL_ID_ALPHABET,
    AccountRef,
    new_external_id,
    session_name_for,
    translate_error,
)

ACCOUNT = AccountRef("acme", "123456789012", "arn:aws:iam::123456789012:role/SpendSense", "e" * 40)


def _err(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "aws says no"}}, "Op")


def test_external_ids_are_long_random_and_in_the_allowed_set() -> None:
    ids = {new_external_id() for _ in range(200)}
    assert len(ids) == 200
    for eid in ids:
        assert len(eid) >= 32
        assert set(eid) <= set(EXTERNAL_ID_ALPHABET)
    with pytest.raises(ValueError):
        new_external_id(16)


def test_session_name_identifies_spendsense_and_is_valid() -> None:
    odd = AccountRef("tenant with spaces/and*stars" * 4, "1" * 12, "arn", "e" * 32)
    name = session_name_for(odd, "SpendSense")
    assert name.startswith("SpendSense-")
    assert len(name) <= 64
    assert all(c.isalnum() or c in "_+=,.@-" for c in name)


@pytest.mark.parametrize(
    ("code", "operation", "region", "needle"),
    [
        ("AccessDenied", "AssumeRole", None, "ExternalId condition"),
        ("NoSuchEntity", "AssumeRole", None, "Re-create the role"),
        ("AccessDenied", "DescribeInstances", "eu-west-1", "not allowed to call DescribeInstances"),
        ("UnauthorizedOperation", "DescribeInstances", "eu-west-1", "read-only policy"),
        ("OptInRequired", "DescribeInstances", "ap-east-1", "Region ap-east-1 is not enabled"),
        ("AuthFailure", "DescribeInstances", "me-south-1", "Region me-south-1 is not enabled"),
        ("UnrecognizedClientException", "GetMetricData", "af-south-1", "not enabled"),
        ("ExpiredToken", "GetMetricData", "us-east-1", "expired"),
    ],
)
def test_access_errors_become_actionable_messages(
    code: str, operation: str, region: str | None, needle: str
) -> None:
    err = translate_error(_err(code), ACCOUNT, region=region, operation=operation)
    assert err is not None
    assert err.code == code
    assert needle in err.message
    assert ACCOUNT.account_id in err.message


@pytest.mark.parametrize(
    "code", ["Throttling", "ThrottlingException", "ValidationError", "InternalError"]
)
def test_other_errors_are_not_access_errors(code: str) -> None:
    assert (
        translate_error(_err(code), ACCOUNT, region="us-east-1", operation="GetMetricData") is None
    )
