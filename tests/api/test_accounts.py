"""Profile, auto-stop policy and AWS accounts: validation with clear messages, the role set-up."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import User

ARN = "arn:aws:iam::123456789012:role/SpendSense"


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::12345678901:role/SpendSense",  # 11 digits
        "arn:aws:iam::123456789012:user/SpendSense",  # a user, not a role
        "arn:aws:s3:::bucket",
        "SpendSense",
        "arn:aws:iam::123456789012:role/",
    ],
)
def test_invalid_role_arns_are_rejected_with_a_clear_message(alice: User, role_arn: str) -> None:
    resp = alice.post("/api/accounts", json={"role_arn": role_arn})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["message"].startswith(
        "role_arn: must be an IAM role ARN like arn:aws:iam::123456789012:role/"
    )
    assert alice.client.get("/api/accounts").json() == []


def test_invalid_regions_are_named(alice: User) -> None:
    resp = alice.post("/api/accounts", json={"role_arn": ARN, "regions": ["us-east-1", "mars-1"]})
    assert resp.status_code == 422
    assert "'mars-1' is not an AWS region name" in resp.json()["error"]["message"]


@pytest.mark.parametrize("email", ["no-at-sign", "a@", "two@@example.com", "spaces in@example.com"])
def test_invalid_alert_emails_are_rejected_with_a_clear_message(alice: User, email: str) -> None:
    current = alice.client.get("/api/settings").json()
    resp = alice.client.put(
        "/api/settings",
        json={**current, "alert_email": email},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["fields"][0]["field"] == "alert_email"
    assert err["message"].startswith("alert_email: value is not a valid email address")
    assert alice.client.get("/api/settings").json() == current


def test_profile_and_policy_round_trip(alice: User) -> None:
    body = {
        "organisation": "Acme Robotics",
        "alert_email": "FinOps@Example.com",
        "autostop": {
            "enabled": True,
            "scope": "all",
            "dry_run": False,
            "grace_minutes": 30,
            "max_per_hour": 3,
        },
    }
    resp = alice.client.put("/api/settings", json=body, headers={"X-CSRF-Token": alice.csrf})
    assert resp.status_code == 200
    assert alice.client.get("/api/settings").json() == {**body, "alert_email": "finops@example.com"}
    bad = alice.client.put(
        "/api/settings",
        json={**body, "autostop": {**body["autostop"], "max_per_hour": 0}},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert (
        bad.status_code == 422
        and bad.json()["error"]["fields"][0]["field"] == "autostop.max_per_hour"
    )


def test_connect_shows_external_id_and_both_role_templates(alice: User, bob: User) -> None:
    created = alice.post("/api/accounts", json={"role_arn": ARN, "regions": ["eu-west-1"]})
    assert created.status_code == 201
    account = created.json()
    assert account["account_id"] == "123456789012" and account["status"] == "pending"
    assert len(account["external_id"]) >= 32
    # another tenant connecting the same AWS account gets its own ExternalId
    other = bob.post("/api/accounts", json={"role_arn": ARN}).json()
    assert other["external_id"] != account["external_id"]
    again = alice.post("/api/accounts", json={"role_arn": ARN})
    assert again.status_code == 409 and again.json()["error"]["code"] == "account_connected"

    setup = alice.client.get("/api/accounts/123456789012/setup").json()
    assert setup["external_id"] == account["external_id"]
    assert "ec2:StopInstances" in setup["stop_actions"]
    assert "ec2:StopInstances" not in setup["read_only_actions"]
    assert "cloudwatch:GetMetricData" in setup["read_only_actions"]
    template = json.loads(setup["cloudformation_template"])
    assert template["Parameters"]["ExternalId"]["Default"] == account["external_id"]
    assert {"ReadOnlyPolicy", "StopPolicy", "Role"} <= set(template["Resources"])
    assert "stacks/quickcreate" in setup["console_url"]
    assert account["external_id"] in setup["terraform"]
    assert 'resource "aws_iam_role_policy" "spendsense_stop"' in setup["terraform"]


def test_role_arn_change_must_stay_in_the_account(alice: User) -> None:
    alice.post("/api/accounts", json={"role_arn": ARN})
    moved = alice.client.patch(
        "/api/accounts/123456789012",
        json={"role_arn": "arn:aws:iam::999999999999:role/SpendSense"},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert (
        moved.status_code == 422
        and "must be in account 123456789012" in moved.json()["error"]["message"]
    )
    renamed = alice.client.patch(
        "/api/accounts/123456789012",
        json={"role_arn": "arn:aws:iam::123456789012:role/path/Other"},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert renamed.status_code == 200 and renamed.json()["role_arn"].endswith("role/path/Other")
