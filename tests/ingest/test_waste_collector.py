"""The resources collector against the sandbox and the real broker: each kind seeded with boto3
into a tenant's account is found, judged and priced by its region on ``waste``; a new
resource is not flagged from its first day, one that is deleted is published ``gone``, and a
kind that fails leaves the others collected."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from ingest.resources import Watched, fetch_histories
from sandbox.control import account_credentials
from spendsense.resources.activity import lookback_start
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import Facts, Metric, WasteRules, load_kinds
from spendsense.store.models.resource_sightings import ResourceSighting
from tests.fixtures.sandbox import create_database
from tests.ingest.conftest import IngestEnv, read_topic

pytestmark = [pytest.mark.kafka]

LATER = timedelta(days=70)  # past the 63-day lookback of resources created now


def admin(env: IngestEnv, service: str, region: str, tenant: str = "acme") -> Any:
    """A client with the tenant account's own admin key (the customer seeding their account)."""
    key, secret = account_credentials(env.sandbox.endpoint_url, env.accounts[tenant].account_id)
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=env.sandbox.endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def latest(env: IngestEnv) -> dict[str, dict[str, Any]]:
    """The last ``waste`` record of each resource id."""
    out: dict[str, dict[str, Any]] = {}
    for msg in read_topic(env.settings.kafka, "waste"):
        value = json.loads(msg.value)
        assert msg.key.decode() == value["key"]
        out[value["resource_id"]] = value
    return out


def seed(env: IngestEnv) -> dict[str, str]:
    """One or more of each kind in acme's account; returns their ids by role."""
    tag = uuid.uuid4().hex[:8]
    ec2 = admin(env, "ec2", "us-east-1")
    ids: dict[str, str] = {}
    ids["volume"] = ec2.create_volume(AvailabilityZone="us-east-1a", Size=500, VolumeType="gp3")[
        "VolumeId"
    ]
    ids["eu-volume"] = admin(env, "ec2", "eu-west-1").create_volume(
        AvailabilityZone="eu-west-1a", Size=100, VolumeType="gp3"
    )["VolumeId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    ids["instance"] = instance["Instances"][0]["InstanceId"]
    ids["attached"] = ec2.create_volume(AvailabilityZone="us-east-1a", Size=50, VolumeType="gp2")[
        "VolumeId"
    ]
    ec2.attach_volume(VolumeId=ids["attached"], InstanceId=ids["instance"], Device="/dev/sdf")
    ec2.stop_instances(InstanceIds=[ids["instance"]])
    ids["eip"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ids["protected-eip"] = ec2.allocate_address(
        Domain="vpc",
        TagSpecifications=[
            {"ResourceType": "elastic-ip", "Tags": [{"Key": "spendsense:protect", "Value": "1"}]}
        ],
    )["AllocationId"]
    gone_volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3")
    ids["orphan-snapshot"] = ec2.create_snapshot(VolumeId=gone_volume["VolumeId"])["SnapshotId"]
    ec2.delete_volume(VolumeId=gone_volume["VolumeId"])
    ids["kept-snapshot"] = ec2.create_snapshot(VolumeId=ids["volume"])["SnapshotId"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    nat_eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ids["nat"] = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=nat_eip)["NatGateway"][
        "NatGatewayId"
    ]
    ids["lb"] = admin(env, "elbv2", "us-east-1").create_load_balancer(
        Name=f"lb-{tag}", Subnets=subnets, Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    ids["db"] = database(env, "us-east-1", f"reports-{tag}")
    return ids


def database(env: IngestEnv, region: str, identifier: str) -> str:
    """A database in acme's account; returns its ARN (the id it is found by)."""
    return create_database(admin(env, "rds", region), identifier)


def test_each_kind_is_found_judged_and_priced_by_region(ingest_env: IngestEnv) -> None:
    env = ingest_env
    ids = seed(env)
    now = [datetime.now(UTC)]
    service = env.service(clock=lambda: now[0], collectors=["resources"])
    results = service.run_cycle()
    assert {r.status for r in results} == {"ok"}, [r.line() for r in results]
    first = latest(env)
    for role in ("volume", "eip", "nat", "lb", "db"):
        record = first[ids[role]]
        assert not record["waste"], record  # nothing is waste from its first sighting
    assert first[ids["volume"]]["provisional"] and first[ids["eip"]]["provisional"]
    for role in ("nat", "lb", "db"):  # a day of history explains nothing yet
        assert not first[ids[role]]["provisional"], first[ids[role]]

    now[0] += LATER
    assert {r.status for r in service.run_cycle()} == {"ok"}
    records = latest(env)
    book = PriceBook.load()
    waste = {
        "volume": book.monthly("us-east-1", "ebs:gp3", 500),
        "eu-volume": book.monthly("eu-west-1", "ebs:gp3", 100),
        "attached": book.monthly("us-east-1", "ebs:gp2", 50),
        "eip": book.monthly("us-east-1", "public-ipv4"),
        "protected-eip": book.monthly("us-east-1", "public-ipv4"),
        "orphan-snapshot": book.monthly("us-east-1", "ebs-snapshot", 20),
        "nat": book.monthly("us-east-1", "nat-gateway"),
        "lb": book.monthly("us-east-1", "load-balancer:application"),
        "db": book.monthly("us-east-1", "rds:db.t3.micro:postgres"),
    }
    for role, price in waste.items():
        record = records[ids[role]]
        assert record["waste"] and record["reason"], (role, record)
        assert record["monthly_price_usd"] == price, (role, record)
        assert (
            record["tenant_id"] == "acme"
            and record["account_id"] == env.accounts["acme"].account_id
        )
    assert records[ids["eu-volume"]]["region"] == "eu-west-1"
    assert records[ids["eu-volume"]]["monthly_price_usd"] == 8.8
    assert not records[ids["kept-snapshot"]]["waste"]  # its volume still exists
    # the protect tag is the actions' business: the finding carries it
    assert records[ids["protected-eip"]]["tags"] == {"spendsense:protect": "1"}
    assert records[ids["attached"]]["details"]["attached_to"] == ids["instance"]
    assert "no connections for 6" in records[ids["db"]]["reason"]

    admin(env, "ec2", "us-east-1").release_address(AllocationId=ids["eip"])
    now[0] += timedelta(hours=2)
    service.run_cycle()
    gone = latest(env)[ids["eip"]]
    assert gone["gone"] and gone["kind"] == "elastic-ip"
    assert not latest(env)[ids["volume"]]["gone"]


def test_databases_of_one_identifier_in_two_regions_are_two_findings(
    ingest_env: IngestEnv,
) -> None:
    """An identifier is unique only within one account and region: each database is keyed
    by its ARN, so neither overwrites the other's finding or sighting."""
    env = ingest_env
    ident = f"app-db-{uuid.uuid4().hex[:8]}"
    arns = {region: database(env, region, ident) for region in ("us-east-1", "eu-west-1")}
    assert len(set(arns.values())) == 2
    service = env.service(collectors=["resources"])
    for _ in range(2):  # the second cycle updates the sightings the first one inserted
        results = service.run_cycle()
        assert {r.status for r in results} == {"ok"}, [r.line() for r in results]
    records = latest(env)
    for region, arn in arns.items():
        record = records[arn]
        assert (record["kind"], record["region"], record["name"]) == ("rds-instance", region, ident)
        assert record["account_id"] == env.accounts["acme"].account_id and not record["gone"]
    assert records[arns["us-east-1"]]["key"] != records[arns["eu-west-1"]]["key"]
    with env.store() as session:
        sighted = session.scalars(
            select(ResourceSighting).where(ResourceSighting.resource_id.in_(arns.values()))
        ).all()
    assert sorted((s.region, s.resource_id) for s in sighted) == sorted(
        (region, arn) for region, arn in arns.items()
    )


def test_a_kind_that_fails_leaves_the_others_and_the_next_cycle_retries(
    ingest_env: IngestEnv,
) -> None:
    env = ingest_env
    volume = admin(env, "ec2", "us-east-1", "globex").create_volume(
        AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3"
    )["VolumeId"]
    env.sandbox.set_faults(
        unavailable_rate=1.0, services=["rds"], accounts=[env.accounts["globex"].account_id]
    )
    try:
        service = env.service(collectors=["resources"])
        results = {r.tenant_id: r for r in service.run_cycle()}
    finally:
        env.sandbox.clear_faults()
    assert results["acme"].status == "ok", results["acme"].line()
    assert results["globex"].status == "error" and "rds" in results["globex"].message.lower()
    record = latest(env)[volume]
    assert record["tenant_id"] == "globex" and record["provisional"]


def test_daily_histories_come_from_one_request_per_batch(ingest_env: IngestEnv) -> None:
    """Month-end and weekly users, read back through CloudWatch, are not flagged."""
    env = ingest_env
    cw = admin(env, "cloudwatch", "us-east-1")
    namespace = f"SpendSense/Test{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(microsecond=0)
    start = lookback_start(now, 63)
    patterns: dict[str, Callable[[int], bool]] = {
        "month-end": lambda d: (start + timedelta(days=d)).day == 1,
        "weekly": lambda d: d % 7 == 3,
        "gone-quiet": lambda d: d < 30,
    }
    for name, used in patterns.items():
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "Requests",
                    "Dimensions": [{"Name": "Resource", "Value": name}],
                    "Timestamp": start + timedelta(days=d, hours=12),
                    "Value": 5.0,
                }
                for d in range(63)
                if used(d)
            ],
        )
    metric = Metric(namespace, "Requests", "Sum")
    watched = [
        Watched(
            "nat-gateway",
            Facts("nat-gateway", name, "us-east-1", dimensions=(("Resource", name),)),
            (metric,),
        )
        for name in patterns
    ]
    session = env.sandbox.assume(
        env.accounts["acme"].role_arn, env.accounts["acme"].external_id, "us-east-1"
    )
    account = env.accounts["acme"].account_id
    before = env.sandbox.call_count("monitoring", "GetMetricData", account)
    histories = fetch_histories(
        env.sandbox.client("cloudwatch", session), watched, now, WasteRules()
    )
    after = env.sandbox.call_count("monitoring", "GetMetricData", account)
    assert after - before == 1
    nat = load_kinds()["nat-gateway"]
    verdicts = {
        name: nat.judge(
            Facts("nat-gateway", name, "us-east-1", state="available"),
            histories[("nat-gateway", name)],
            now,
            WasteRules(),
        )
        for name in patterns
    }
    assert histories[("nat-gateway", "weekly")].longest_gap() == 6
    assert not verdicts["month-end"].waste and not verdicts["weekly"].waste
    assert verdicts["gone-quiet"].waste
