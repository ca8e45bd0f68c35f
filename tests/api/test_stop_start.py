"""Stop and start from the API against the sandbox account: rails, audit, projection."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI

from tests.api.conftest import connect, seed_instance, sign_up, state, stoppable_running
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.kafka


def test_stop_then_start_again_each_audited(sandbox_app: FastAPI, sandbox: Sandbox) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(user, sandbox, account_id)
    iid = stoppable_running(ec2, services.settings.actions.protect_tag)
    with services.sessions() as db:
        seed_instance(db, user.tenant_id, iid, account_id=account_id, idle=True, waste=30.0)

    stopped = user.post(f"/api/instances/{iid}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["result"] == "stopped" and stopped.json()["state"] == "stopping"
    assert user.client.get(f"/api/instances/{iid}").json()["state"] == "stopping"
    deadline = time.monotonic() + 30
    while state(ec2, iid) != "stopped":
        assert time.monotonic() < deadline, "the sandbox never reported stopped"
        time.sleep(0.5)

    started = user.post(f"/api/instances/{iid}/start")
    assert started.status_code == 200, started.text
    assert started.json()["result"] == "started" and started.json()["state"] == "pending"
    assert state(ec2, iid) in {"pending", "running"}
    audit = user.client.get("/api/audit", params={"instance_id": iid}).json()["items"]
    assert [(a["action"], a["result"], a["actor"]) for a in audit] == [
        ("start", "started", user.email),
        ("stop", "stopped", user.email),
    ]


def test_the_rails_refuse_a_protected_instance_and_say_why(
    sandbox_app: FastAPI, sandbox: Sandbox
) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[1]
    ec2 = connect(user, sandbox, account_id)
    protect = services.settings.actions.protect_tag
    iid = stoppable_running(ec2, protect)
    ec2.create_tags(Resources=[iid], Tags=[{"Key": protect, "Value": "yes"}])
    try:
        with services.sessions() as db:
            seed_instance(db, user.tenant_id, iid, account_id=account_id, idle=True, waste=30.0)
        refused = user.post(f"/api/instances/{iid}/stop")
        assert refused.status_code == 200
        assert refused.json()["result"] == "refused" and protect in refused.json()["message"]
        assert state(ec2, iid) == "running"
    finally:
        ec2.delete_tags(Resources=[iid], Tags=[{"Key": protect}])
