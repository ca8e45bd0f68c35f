"""Wasted resources beyond instances through the API: the projector folds the ``waste`` topic
(real broker) into ``waste_resources``; the overview by kind, a kind's list and a resource's
detail read it, tenant-scoped; an action runs in the sandbox account, audited with the
resource's id, idempotent, and the Elastic IP's release needs its typed confirmation."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI

from spendsense.producer import make_producer
from spendsense.settings import KafkaSettings
from spendsense.store.models.waste import WasteResource
from spendsense.topics import WASTE, topic_name
from tests.api.conftest import (
    User,
    connect,
    projector_setup,
    running_projector,
    seed_instance,
    sign_up,
)
from tests.api.test_roles import join
from tests.api.waste_seeds import seed_waste, waste_record
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox, create_database

pytestmark = pytest.mark.kafka

ACCOUNT = "111111111111"


def test_the_projector_folds_waste_forward_only_and_marks_the_gone(
    kafka: KafkaSettings, postgres_server: PostgresServer
) -> None:
    store, settings = projector_setup(kafka, postgres_server)
    found = waste_record("acme", ACCOUNT, "ebs-volume", "vol-0abc", monthly_price_usd=40.0)
    older = found.model_copy(update={"observed_at": found.observed_at.replace(year=2020)})
    snap = waste_record("acme", ACCOUNT, "ebs-snapshot", "snap-0abc", waste=False, provisional=True)
    gone = snap.model_copy(
        update={
            "gone": True,
            "observed_at": snap.observed_at.replace(microsecond=0).replace(year=2030),
        }
    )
    producer = make_producer(kafka, client_id="waste-projector-test")
    for rec in (found, older, snap, gone, waste_record("ghost", ACCOUNT)):
        producer.send(topic_name(kafka, WASTE), key=rec.key.encode(), value=rec.to_bytes())
    producer.flush(10)
    producer.close(10)
    with running_projector(settings, store.sessions) as projector:
        records = projector.metrics.records
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = sum(
                records.labels(topic=WASTE, outcome=o)._value.get()
                for o in ("applied", "stale", "deadletter")
            )
            if seen >= 5:
                break
            time.sleep(0.2)
        assert records.labels(topic=WASTE, outcome="stale")._value.get() == 1
        assert records.labels(topic=WASTE, outcome="deadletter")._value.get() == 1
    with store.sessions() as session:
        vol = session.get(WasteResource, ("acme", "ebs-volume", "vol-0abc"))
        assert vol is not None
        assert (vol.verdict, vol.monthly_waste_usd, vol.reason) == ("waste", 40.0, found.reason)
        old = session.get(WasteResource, ("acme", "ebs-snapshot", "snap-0abc"))
        assert old is not None and (old.verdict, old.monthly_waste_usd) == ("gone", 0.0)
    store.dispose()


def test_overview_list_and_detail_are_the_callers_own(sandbox_app: FastAPI) -> None:
    alice, bob = sign_up(sandbox_app), sign_up(sandbox_app)
    services = sandbox_app.state.spendsense
    with services.sessions() as db:
        seed_instance(db, alice.tenant_id, "i-0aaaabbbbcccc0001", idle=True, waste=30.0)
        vol = seed_waste(
            db,
            alice.tenant_id,
            ACCOUNT,
            kind="ebs-volume",
            resource_id="vol-0a1",
            monthly_price_usd=40.0,
        )
        eip = seed_waste(db, alice.tenant_id, ACCOUNT)
        seed_waste(
            db,
            alice.tenant_id,
            ACCOUNT,
            resource_id="eipalloc-0early",
            waste=False,
            provisional=True,
        )
        seed_waste(db, alice.tenant_id, ACCOUNT, resource_id="eipalloc-0fine", waste=False)
        seed_waste(
            db,
            bob.tenant_id,
            "222222222222",
            kind="ebs-volume",
            resource_id="vol-0b1",
            monthly_price_usd=99.0,
        )

    overview = alice.client.get("/api/waste").json()
    kinds = {k["kind"]: k for k in overview["kinds"]}
    assert (kinds["ebs-volume"]["count"], kinds["ebs-volume"]["monthly_waste_usd"]) == (1, 40.0)
    assert (kinds["elastic-ip"]["count"], kinds["elastic-ip"]["provisional"]) == (1, 1)
    assert kinds["nat-gateway"]["count"] == 0
    assert (overview["count"], overview["monthly_waste_usd"]) == (2, 43.6)
    assert (overview["instances"]["idle"], overview["instances"]["monthly_waste_usd"]) == (1, 30.0)

    page = alice.client.get("/api/waste/elastic-ip").json()
    assert [(i["resource_id"], i["verdict"]) for i in page["items"]] == [
        (eip, "waste"),
        ("eipalloc-0early", "provisional"),
    ]
    assert page["items"][0]["actions"] == [
        {
            "action": "release",
            "confirm": True,
            "policy": False,
            "note": "Irreversible: the address cannot be had back.",
        }
    ]
    everything = alice.client.get("/api/waste/elastic-ip", params={"all": "true", "limit": 2})
    assert everything.json()["total"] == 3 and len(everything.json()["items"]) == 2
    assert alice.client.get("/api/waste/volumes").status_code == 404

    detail = alice.client.get(f"/api/waste/ebs-volume/{vol}").json()
    assert (detail["monthly_price_usd"], detail["verdict"], detail["audit"]) == (40.0, "waste", [])
    assert detail["actions"][0]["action"] == "snapshot-then-delete"
    # bob's volume answers exactly like one that exists nowhere
    theirs = alice.client.get("/api/waste/ebs-volume/vol-0b1")
    nowhere = alice.client.get("/api/waste/ebs-volume/vol-0zz")
    assert theirs.status_code == nowhere.status_code == 404 and theirs.json() == nowhere.json()
    assert "vol-0b1" not in str(
        alice.client.get("/api/waste/ebs-volume", params={"all": "true"}).json()
    )
    assert alice.client.get("/waste/ebs-volume/vol-0b1").status_code == 404
    assert alice.client.get(f"/waste/ebs-volume/{vol}").status_code == 200


def wasted_address(app: FastAPI, sandbox: Sandbox) -> tuple[User, Any, str, str]:
    """A new organisation's admin, its account's EC2 client, and an Elastic IP there found
    wasted: the admin, the client, the allocation id and the address."""
    admin = sign_up(app)
    account_id = sandbox.tenant_account_ids[0]
    ec2 = connect(admin, sandbox, account_id)
    address = ec2.allocate_address(Domain="vpc")
    alloc, ip = address["AllocationId"], address["PublicIp"]
    with app.state.spendsense.sessions() as db:
        seed_waste(db, admin.tenant_id, account_id, resource_id=alloc, details={"public_ip": ip})
    return admin, ec2, alloc, ip


def test_an_elastic_ip_released_from_the_api_with_its_typed_confirmation(
    sandbox_app: FastAPI, sandbox: Sandbox
) -> None:
    user, ec2, alloc, ip = wasted_address(sandbox_app, sandbox)
    url = f"/api/waste/elastic-ip/{alloc}/actions/release"

    unconfirmed = user.post(url, json={})
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["error"]["code"] == "confirm_required"
    assert alloc in unconfirmed.json()["error"]["message"]
    assert user.post(url, json={"confirm": "yes please"}).status_code == 422
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]

    released = user.post(url, json={"confirm": ip})
    assert released.status_code == 200, released.text
    assert released.json()["result"] == "released"
    assert ip not in {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
    again = user.post(url, json={"confirm": ip})  # a double click: the first result
    assert (again.json()["result"], again.json()["previous"]) == ("replayed", "released")

    detail = user.client.get(f"/api/waste/elastic-ip/{alloc}").json()
    assert detail["last_action"] == "release:released"
    assert [(a["action"], a["result"], a["actor"]) for a in detail["audit"]] == [
        ("release", "released", user.email),
        ("release", "confirm-required", user.email),
        ("release", "confirm-required", user.email),
    ]
    audit = user.client.get("/api/audit").json()["items"]
    assert audit[0]["action"] == "elastic-ip:release" and audit[0]["result"] == "released"
    assert user.post(f"/api/waste/elastic-ip/{alloc}/actions/delete", json={}).status_code == 404


def test_a_protected_volume_is_refused_from_the_api(sandbox_app: FastAPI, sandbox: Sandbox) -> None:
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[1]
    ec2 = connect(user, sandbox, account_id)
    protect = services.settings.actions.protect_tag
    vol = ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=10,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": protect, "Value": "y"}]}],
    )["VolumeId"]
    with services.sessions() as db:
        seed_waste(
            db, user.tenant_id, account_id, kind="ebs-volume", resource_id=vol, tags={protect: "y"}
        )
    assert user.client.get(f"/api/waste/ebs-volume/{vol}").json()["protected"] is True
    refused = user.post(f"/api/waste/ebs-volume/{vol}/actions/snapshot-then-delete", json={})
    assert refused.status_code == 200 and refused.json()["result"] == "refused"
    assert protect in refused.json()["message"]
    assert ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"] == "available"


def test_of_two_databases_of_one_identifier_the_api_stops_the_one_asked_for(
    sandbox_app: FastAPI, sandbox: Sandbox
) -> None:
    """A database's id is its ARN (its identifier is unique only per account and region),
    colons and all in the URL as the pages encode it; the other one keeps running."""
    services = sandbox_app.state.spendsense
    user = sign_up(sandbox_app)
    account_id = sandbox.tenant_account_ids[0]
    connect(user, sandbox, account_id)
    ident = f"app-db-{uuid.uuid4().hex[:8]}"
    clients, arns = {}, {}
    for region in ("us-east-1", "eu-west-1"):
        clients[region] = sandbox.client("rds", sandbox.tenant_session(account_id, region), region)
        arns[region] = create_database(clients[region], ident)
        with services.sessions() as db:
            seed_waste(
                db,
                user.tenant_id,
                account_id,
                kind="rds-instance",
                resource_id=arns[region],
                region=region,
            )

    def status(region: str) -> str:
        found = clients[region].describe_db_instances(DBInstanceIdentifier=ident)
        return str(found["DBInstances"][0]["DBInstanceStatus"])

    page = user.client.get("/api/waste/rds-instance").json()
    assert sorted((i["resource_id"], i["region"]) for i in page["items"]) == sorted(
        (arn, region) for region, arn in arns.items()
    )
    staging = quote(arns["eu-west-1"], safe="")
    stopped = user.post(f"/api/waste/rds-instance/{staging}/actions/stop", json={})
    assert stopped.status_code == 200 and stopped.json()["result"] == "stopped", stopped.text
    assert status("eu-west-1") in {"stopped", "stopping"} and status("us-east-1") == "available"
    detail = user.client.get(f"/api/waste/rds-instance/{quote(arns['us-east-1'], safe='')}")
    assert detail.json()["resource_id"] == arns["us-east-1"] and not detail.json()["audit"]


def test_only_an_admin_releases_an_address(sandbox_app: FastAPI, sandbox: Sandbox) -> None:
    admin, ec2, alloc, ip = wasted_address(sandbox_app, sandbox)
    operator = join(sandbox_app, admin, "operator")
    url = f"/api/waste/elastic-ip/{alloc}/actions/release"

    refused = operator.post(url, json={"confirm": ip})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "role_required"
    assert "admin role" in refused.json()["error"]["message"]
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]  # still there
    released = admin.post(url, json={"confirm": ip})
    assert released.json()["result"] == "released", released.text
