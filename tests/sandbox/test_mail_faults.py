"""SES mail read back; faults injected, targeted, counted and cleared."""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage

import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import control
from tests.fixtures.sandbox import Sandbox

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


def test_send_email_is_read_back_with_both_bodies(sandbox: Sandbox) -> None:
    to = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    ses = sandbox.client("ses")
    sent = ses.send_email(
        Source="alerts@spendsense.example",
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": "Idle instance i-0abc"},
            "Body": {
                "Text": {"Data": "It has been idle for 3 days."},
                "Html": {"Data": "<p>It has been idle</p>"},
            },
        },
    )
    mine = [m for m in sandbox.mail() if to in m.to]
    assert len(mine) == 1
    message = mine[0]
    assert message.message_id == sent["MessageId"]
    assert message.subject == "Idle instance i-0abc"
    assert message.text == "It has been idle for 3 days."
    assert message.html == "<p>It has been idle</p>"
    assert message.account == sandbox.vendor_account_id


def test_send_raw_email_is_parsed(sandbox: Sandbox) -> None:
    to = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = (
        "alerts@spendsense.example",
        to,
        "Weekly idle digest",
    )
    mime.set_content("plain digest")
    mime.add_alternative("<b>html digest</b>", subtype="html")
    sandbox.client("ses").send_raw_email(RawMessage={"Data": mime.as_bytes()})
    (message,) = [m for m in sandbox.mail() if to in m.to]
    assert (message.subject, message.text.strip(), message.html.strip()) == (
        "Weekly idle digest",
        "plain digest",
        "<b>html digest</b>",
    )


def test_unverified_sender_is_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(ClientError) as info:
        sandbox.client("ses").send_email(
            Source="someone@not-verified.example",
            Destination={"ToAddresses": ["x@example.com"]},
            Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
        )
    assert info.value.response["Error"]["Code"] == "MessageRejected"


def test_throttling_targets_one_operation_and_clears(sandbox_faults: Sandbox) -> None:
    sandbox = sandbox_faults
    tenant = sandbox.tenant_account_ids[0]
    session = sandbox.tenant_session(tenant)
    ec2 = session.client("ec2", endpoint_url=sandbox.endpoint_url, config=NO_RETRY)
    sandbox.set_faults(
        throttle_rate=1.0, operations=["DescribeInstances"], accounts=[tenant], seed=3
    )
    with pytest.raises(ClientError) as info:
        ec2.describe_instances()
    assert info.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    ec2.describe_regions()  # another operation is untouched
    rows = [
        r
        for r in sandbox.calls()
        if r["account"] == tenant and r["operation"] == "DescribeInstances"
    ]
    assert rows and rows[0]["faulted"] >= 1
    sandbox.clear_faults()
    assert ec2.describe_instances()["Reservations"]


def test_share_of_calls_fails_deterministically(sandbox_faults: Sandbox) -> None:
    sandbox = sandbox_faults
    client = sandbox.vendor_session().client(
        "sts", endpoint_url=sandbox.endpoint_url, config=NO_RETRY
    )

    def outcomes() -> list[str]:
        sandbox.set_faults(
            error_rate=0.5, services=["sts"], operations=["GetCallerIdentity"], seed=42
        )
        out = []
        for _ in range(20):
            try:
                client.get_caller_identity()
                out.append("ok")
            except ClientError as exc:
                out.append(exc.response["Error"]["Code"])
        return out

    first, second = outcomes(), outcomes()
    assert first == second
    assert set(first) == {"ok", "InternalFailure"}


def test_a_failed_region_and_added_latency(sandbox_faults: Sandbox) -> None:
    sandbox = sandbox_faults
    sandbox.set_faults(
        rules=[
            {"fail_regions": ["eu-west-1"]},
            {"latency_ms": 300, "regions": ["us-east-1"], "services": ["sts"]},
        ]
    )
    eu = sandbox.vendor_session("eu-west-1").client(
        "cloudwatch", endpoint_url=sandbox.endpoint_url, config=NO_RETRY
    )
    with pytest.raises(ClientError) as info:
        eu.list_metrics()
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    sts = sandbox.vendor_session().client("sts", endpoint_url=sandbox.endpoint_url, config=NO_RETRY)
    began = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - began >= 0.3


def test_moto_reset_is_refused_and_state_survives(sandbox: Sandbox) -> None:
    answer = httpx.post(f"{sandbox.endpoint_url}/moto-api/reset", timeout=10)
    assert answer.status_code == 409
    assert control.health(sandbox.endpoint_url)["instances"] == len(sandbox.fleet.instances)
    tenant = sandbox.tenant_account_ids[0]
    ec2 = sandbox.client("ec2", sandbox.tenant_session(tenant))
    assert ec2.describe_instances()["Reservations"]
