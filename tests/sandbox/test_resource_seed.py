"""The sandbox holds the fleet's resources as they stand, changes them when their time comes,
and serves their CloudWatch metrics by dimension."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.fleet import write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.model import FleetResource
from sandbox.resource_metrics import dimension_value
from tests.fixtures.sandbox import Sandbox, serve_sandbox

SPEC = FleetSpec(seed=4, instances=16, days=21, tenants=1, resources=8)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("resource-fleet")
    write_fleet(generate_fleet(SPEC), folder)
    with serve_sandbox(folder) as sandbox:
        yield sandbox


def of(sandbox: Sandbox, kind: str, case: str | None = None) -> list[FleetResource]:
    return [
        r
        for r in sandbox.fleet.resources.values()
        if r.kind == kind and case in (None, r.facts["case"])
    ]


def client(sandbox: Sandbox, service: str, r: FleetResource) -> Any:
    session = sandbox.tenant_session(r.account_id, r.region)
    return sandbox.client(service, session, r.region)


def test_moto_holds_every_resource_with_the_fleets_ids(served: Sandbox) -> None:
    for r in of(served, "ebs-volume"):
        [volume] = client(served, "ec2", r).describe_volumes(VolumeIds=[r.resource_id])["Volumes"]
        assert volume["Size"] == r.facts["size_gb"]
        assert {t["Key"]: t["Value"] for t in volume["Tags"]}["Name"] == r.name
    for r in of(served, "elastic-ip"):
        [address] = client(served, "ec2", r).describe_addresses(AllocationIds=[r.resource_id])[
            "Addresses"
        ]
        assert address["PublicIp"] == r.facts["public_ip"]
    for r in of(served, "nat-gateway"):
        [nat] = client(served, "ec2", r).describe_nat_gateways(NatGatewayIds=[r.resource_id])[
            "NatGateways"
        ]
        assert nat["State"] == "available" and nat["SubnetId"].startswith("subnet-")
    for r in of(served, "load-balancer"):
        [lb] = client(served, "elbv2", r).describe_load_balancers(LoadBalancerArns=[r.resource_id])[
            "LoadBalancers"
        ]
        assert lb["Type"] == r.facts["type"]
    for r in of(served, "rds-instance"):
        [db] = client(served, "rds", r).describe_db_instances(
            DBInstanceIdentifier=dimension_value(r.resource_id)
        )["DBInstances"]
        assert db["DBInstanceClass"] == r.facts["instance_class"]
        assert db["DBInstanceArn"] == r.resource_id  # the id the collector keys it by
    owned = {
        s["SnapshotId"]
        for r in of(served, "ebs-snapshot")
        for s in client(served, "ec2", r).describe_snapshots(OwnerIds=["self"])["Snapshots"]
    }
    assert owned == {r.resource_id for r in of(served, "ebs-snapshot")}


def test_state_at_onboarding_follows_the_facts(served: Sandbox) -> None:
    [stopped] = of(served, "ebs-volume", "stopped-long")[:1]
    ec2 = client(served, "ec2", stopped)
    [volume] = ec2.describe_volumes(VolumeIds=[stopped.resource_id])["Volumes"]
    host = volume["Attachments"][0]["InstanceId"]
    [instance] = ec2.describe_instances(InstanceIds=[host])["Reservations"][0]["Instances"]
    when = stopped.time("instance_stopped_at")
    assert instance["State"]["Name"] == "stopped"
    shifted = datetime.fromtimestamp(when.timestamp() + served.shift(), UTC)
    assert f"({shifted:%Y-%m-%d %H:%M:%S} GMT)" in instance["StateTransitionReason"]
    for r in of(served, "ebs-volume", "unattached"):
        [volume] = client(served, "ec2", r).describe_volumes(VolumeIds=[r.resource_id])["Volumes"]
        assert volume["State"] == "available"
    for r in of(served, "ebs-snapshot", "orphan-old"):
        ec2 = client(served, "ec2", r)
        assert not ec2.describe_volumes(
            Filters=[{"Name": "volume-id", "Values": [r.facts["volume_id"]]}]
        )["Volumes"]
    for r in of(served, "ebs-snapshot", "ami-kept"):
        [image] = client(served, "ec2", r).describe_images(ImageIds=[r.facts["ami_id"]])["Images"]
        assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == r.resource_id


def test_a_maintenance_window_detaches_and_reattaches_in_sandbox_time(served: Sandbox) -> None:
    [r] = of(served, "ebs-volume", "maintenance")[:1]
    ec2 = client(served, "ec2", r)

    def state() -> str:
        return ec2.describe_volumes(VolumeIds=[r.resource_id])["Volumes"][0]["State"]

    detached = r.time("detached_at").timestamp() + served.shift()
    back = r.time("reattached_at").timestamp() + served.shift()
    assert state() == "in-use"
    served.advance_clock(max(0.0, (detached + back) / 2 - served.now()))
    assert state() == "available"
    served.advance_clock(max(0.0, back - served.now() + 60))
    assert state() == "in-use"


def _daily(sandbox: Sandbox, r: FleetResource, namespace: str, name: str, dims: list) -> list:
    now = sandbox.now()
    answer = client(sandbox, "cloudwatch", r).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                    "Period": 86400,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=datetime.fromtimestamp(now - 60 * 86400, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
        ScanBy="TimestampAscending",
    )
    [result] = answer["MetricDataResults"]
    return list(zip(result["Timestamps"], result["Values"], strict=True))


def test_cloudwatch_serves_their_metrics_by_dimension(served: Sandbox) -> None:
    [nat] = of(served, "nat-gateway", "month-end")[:1]
    days = _daily(
        served,
        nat,
        "AWS/NATGateway",
        "BytesOutToDestination",
        [{"Name": "NatGatewayId", "Value": nat.resource_id}],
    )
    shift = served.shift()  # month ends in fleet time
    busy = {datetime.fromtimestamp(t.timestamp() - shift, UTC).day for t, v in days if v > 250e6}
    assert len(days) > 40 and busy and busy <= {28, 29, 30, 31}
    [db] = of(served, "rds-instance", "nightly-report")[:1]
    days = _daily(
        served,
        db,
        "AWS/RDS",
        "DatabaseConnections",
        [{"Name": "DBInstanceIdentifier", "Value": dimension_value(db.resource_id)}],
    )
    rest = min(v for _, v in days)  # the agent's one connection, if it has one
    assert sum(v > rest for _, v in days) >= len(days) - 2  # every night
    [lb] = of(served, "load-balancer", "never-used")[:1]
    dimension = lb.resource_id.split(":loadbalancer/")[1]
    namespace = "AWS/NetworkELB" if lb.facts["type"] == "network" else "AWS/ApplicationELB"
    days = _daily(
        served, lb, namespace, "ProcessedBytes", [{"Name": "LoadBalancer", "Value": dimension}]
    )
    assert days and all(v < 1e6 for _, v in days)  # scanners' small answers only
    # 5-minute periods too, and another account's or region's resource is not the caller's
    [busy_nat] = of(served, "nat-gateway", "busy")[:1]
    now = served.now()
    answer = client(served, "cloudwatch", busy_nat).get_metric_statistics(
        Namespace="AWS/NATGateway",
        MetricName="ActiveConnectionCount",
        Dimensions=[{"Name": "NatGatewayId", "Value": busy_nat.resource_id}],
        StartTime=datetime.fromtimestamp(now - 3600, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
        Period=300,
        Statistics=["Maximum"],
    )
    assert len(answer["Datapoints"]) >= 10 and all(p["Maximum"] >= 1 for p in answer["Datapoints"])
    other = "eu-west-1" if busy_nat.region == "us-east-1" else "us-east-1"
    session = served.tenant_session(busy_nat.account_id, other)
    elsewhere = served.client("cloudwatch", session, other).list_metrics(Namespace="AWS/NATGateway")
    assert busy_nat.resource_id not in str(elsewhere["Metrics"])
    listed = client(served, "cloudwatch", busy_nat).list_metrics(Namespace="AWS/NATGateway")
    assert busy_nat.resource_id in str(listed["Metrics"])
