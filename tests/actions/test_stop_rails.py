"""Stopping never destroys local data nor fights an instance's manager, from every path.

An EBS-root instance whose type has instance-store volumes (m5d: EC2's
``DescribeInstanceTypes`` says ``InstanceStorageSupported``) loses their data when stopped;
members of an EKS node group, a Karpenter node pool or an EMR cluster (recognised by the
tags those put on their instances) are replaced or counted lost. Each is refused with its
reason whether the stop comes from the dashboard's button, an alert e-mail's link or the
auto-stop policy, against the sandbox account; a start goes through the protect checks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from actions.policy import POLICY_ACTOR
from api.app import create_app
from spendsense.metrics import CollectorRegistry
from spendsense.settings import KafkaSettings
from spendsense.store import get_tenant, list_audit
from tests.actions.conftest import Rig
from tests.api.conftest import seed_instance

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Case:
    """An instance SpendSense must never stop: how it is launched, the rail, the reason."""

    instance_type: str
    tags: dict[str, str]
    rail: str
    reason: str


CASES = {
    "local-disks": Case(
        "m5d.large",
        {},
        "instance-store-volumes",
        "its type m5d.large has instance-store volumes, whose data a stop erases",
    ),
    "eks": Case(
        "t3.micro",
        {"eks:cluster-name": "prod", "eks:nodegroup-name": "ng-blue"},
        "eks",
        "it belongs to EKS node group ng-blue, which would replace it",
    ),
    "karpenter": Case(
        "t3.micro",
        {"karpenter.sh/nodepool": "general"},
        "karpenter",
        "it belongs to Karpenter node pool general, which would replace it",
    ),
    "karpenter-provisioner": Case(
        "t3.micro",
        {"karpenter.sh/provisioner-name": "default"},
        "karpenter",
        "it belongs to Karpenter node pool default, which would replace it",
    ),
    "emr": Case(
        "t3.micro",
        {
            "aws:elasticmapreduce:instance-group-role": "CORE",
            "aws:elasticmapreduce:job-flow-id": "j-2AXXXXXXGAPLF",
        },
        "emr",
        "it belongs to EMR cluster j-2AXXXXXXGAPLF, which would count it lost and may fail the "
        "cluster",
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def _launch(rig: Rig, instance_type: str, tags: dict[str, str] | None = None) -> str:
    """A running instance in acme's account (tests terminate theirs: the sandbox is shared)."""
    tagged = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    resp = rig.ec2().run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType=instance_type,
        **({"TagSpecifications": [{"ResourceType": "instance", "Tags": tagged}]} if tagged else {}),
    )
    return str(resp["Instances"][0]["InstanceId"])


@pytest.fixture
def launched(rig: Rig, case: Case) -> Iterator[str]:
    """The case's instance, running; terminated after the test."""
    instance_id = _launch(rig, case.instance_type, case.tags)
    yield instance_id
    rig.ec2().terminate_instances(InstanceIds=[instance_id])


@pytest.fixture
def member(rig: Rig, kafka: KafkaSettings, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the rig's store, logged in as a member of acme (CSRF header set)."""
    app = create_app(rig.api_settings(kafka, tmp_path), registry=CollectorRegistry())
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-CSRF-Token"] = rig.log_in(client)
        yield client
    app.state.spendsense.engine.dispose()


def _audited_rails(rig: Rig, instance_id: str) -> list[tuple[str, str, str | None]]:
    with rig.store.sessions() as session:
        return [
            (e.action, e.result, (e.details or {}).get("rail"))
            for e in list_audit(session, "acme")
            if e.instance_id == instance_id
        ]


def test_the_button_refuses_with_the_reason(
    rig: Rig, member: TestClient, case: Case, launched: str
) -> None:
    account = rig.accounts["acme"].account_id
    with rig.store.sessions() as db:
        seed_instance(db, "acme", launched, account_id=account, idle=True, tags=case.tags)
    shown = member.get(f"/api/instances/{launched}").json()
    if case.tags:  # the list knows managed groups from the tags; the type needs EC2
        assert (shown["stoppable"], shown["not_stoppable_reason"]) == (False, case.reason)
    refused = member.post(f"/api/instances/{launched}/stop")
    assert refused.status_code == 200, refused.text
    assert refused.json()["result"] == "refused"
    assert refused.json()["message"] == f"{launched}: not stopped: {case.reason}"
    assert rig.state(launched) == "running"
    assert _audited_rails(rig, launched) == [("stop", "refused", case.rail)]


def test_the_email_link_refuses_with_the_reason(
    rig: Rig, member: TestClient, case: Case, launched: str
) -> None:
    assert rig.runtime.handle(rig.detection(launched)) == "emailed"
    (mail,) = rig.mail_to(rig.recipient)
    stop_url = next(u for u in (mail.text or "").split() if "/links/" in u)
    assert rig.claims(stop_url).action == "stop"
    path = "/" + stop_url.split("/", 3)[3]
    page = member.get(path)
    assert page.status_code == 200, page.text
    csrf = CSRF.search(page.text)
    assert csrf is not None
    done = member.post(path, data={"csrf_token": csrf.group(1)})
    assert f"Stop {launched}: refused" in done.text
    assert f"not stopped: {case.reason}" in done.text.replace("&#39;", "'")
    assert rig.state(launched) == "running"
    assert _audited_rails(rig, launched) == [("stop", "refused", case.rail)]


def test_the_auto_stop_policy_refuses_with_the_reason(rig: Rig, case: Case, launched: str) -> None:
    with rig.store.sessions.begin() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        tenant.autostop_enabled, tenant.autostop_dry_run = True, False
        tenant.autostop_scope, tenant.autostop_grace_minutes = "all", 30
    outcome = rig.policy.apply(rig.detection(launched))
    assert outcome is not None and outcome.what == "refused"
    assert (outcome.rail, outcome.message) == (case.rail, case.reason)
    assert rig.settings.grace_tag not in rig.tags(launched)  # no grace period started
    # and the policy's stop itself, should one be asked (a grace period from before):
    stop = rig.executor.stop(
        "acme", launched, POLICY_ACTOR, "idle", f"acme/auto-stop/{launched}", False, max_per_hour=5
    )
    assert (stop.result, stop.rail, stop.message) == (
        "refused",
        case.rail,
        f"not stopped: {case.reason}",
    )
    assert rig.state(launched) == "running"


def test_instance_types_are_described_once_per_region_and_type(rig: Rig) -> None:
    first, second = _launch(rig, "m5d.large"), _launch(rig, "m5d.large")
    try:
        account = rig.accounts["acme"].account_id
        before = rig.sandbox.call_count("ec2", "DescribeInstanceTypes", account)
        for iid in (first, second, first):
            outcome = rig.executor.stop(
                "acme", iid, "ops@acme.test", "idle", uuid.uuid4().hex, False
            )
            assert outcome.rail == "instance-store-volumes"
        assert rig.sandbox.call_count("ec2", "DescribeInstanceTypes", account) == before + 1
        assert {rig.state(first), rig.state(second)} == {"running"}
    finally:
        rig.ec2().terminate_instances(InstanceIds=[first, second])


def test_start_is_refused_on_a_protected_instance(rig: Rig, member: TestClient) -> None:
    protect = rig.settings.protect_tag
    iid = rig.run_instance()
    try:
        rig.ec2().stop_instances(InstanceIds=[iid])
        rig.ec2().create_tags(Resources=[iid], Tags=[{"Key": protect, "Value": "true"}])
        with rig.store.sessions() as db:
            account = rig.accounts["acme"].account_id
            seed_instance(db, "acme", iid, account_id=account, state="stopped")
        refused = member.post(f"/api/instances/{iid}/start")
        assert refused.status_code == 200, refused.text
        assert refused.json()["result"] == "refused"
        assert refused.json()["message"] == f"{iid}: not started: it carries the {protect} tag"
        outcome = rig.executor.start("acme", iid, "ops@acme.test", "undo", f"acme/start/{iid}")
        assert (outcome.result, outcome.rail) == ("refused", "protected")
        assert rig.state(iid) == "stopped"
        assert _audited_rails(rig, iid) == [("start", "refused", "protected")] * 2
    finally:
        rig.ec2().terminate_instances(InstanceIds=[iid])
