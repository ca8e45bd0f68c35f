"""CloudWatch GetMetricData / GetMetricStatistics served from the trace fleet, in sandbox time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest
from botocore.exceptions import ClientError

from ingest.cloudwatch import metric_query
from sandbox.fleet import FleetInstance
from tests.fixtures.sandbox import Sandbox

DAY = 86400
BUSY = {"web-diurnal", "steady-service"}  # never idle: no other suite stops these


def _query(iid: str, metric: str = "CPUUtilization", qid: str = "m0") -> dict[str, Any]:
    """The collector's own query (per 5 minutes, the metric's statistic)."""
    return metric_query(qid, iid, metric)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _tenant_session_client(sandbox: Sandbox, instance: FleetInstance) -> Any:
    session = sandbox.tenant_session(instance.account_id, instance.region)
    return sandbox.client("cloudwatch", session, region=instance.region)


def _long_lived(sandbox: Sandbox) -> FleetInstance:
    """A busy running instance (no suite stops it) whose trace covers the whole history."""
    start = sandbox.fleet.start
    return next(
        i
        for i in sandbox.fleet.instances.values()
        if sandbox.fleet.traces[i.instance_id].start == start
        and i.state == "running"
        and i.kind in BUSY
        and i.account_id == sandbox.tenant_account_ids[0]
    )


def _points(
    cw: Any, queries: list[dict[str, Any]], start: float, end: float, **extra: Any
) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {q["Id"]: [] for q in queries}
    token = None
    while True:
        params: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": _at(start),
            "EndTime": _at(end),
            **extra,
        }
        if token:
            params["NextToken"] = token
        page = cw.get_metric_data(**params)
        for result in page["MetricDataResults"]:
            out[result["Id"]] += [
                (t.timestamp(), v)
                for t, v in zip(result["Timestamps"], result["Values"], strict=True)
            ]
        token = page.get("NextToken")
        if not token:
            return out


def test_history_is_exactly_the_fleet_trace(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    trace = sandbox.fleet.traces[instance.instance_id]
    shift = sandbox.shift()
    first = trace.start.timestamp() + shift
    history = 14 * 288
    cw = _tenant_session_client(sandbox, instance)
    queries = [
        _query(instance.instance_id, m, f"q{n}")
        for n, m in enumerate(["CPUUtilization", "NetworkIn", "NetworkOut"])
    ]
    got = _points(cw, queries, first, first + 14 * DAY, ScanBy="TimestampAscending")
    expected_ts = (first + 300 * np.arange(history)).tolist()
    for qid, column in zip(
        ["q0", "q1", "q2"],
        [trace.cpu_percent, trace.network_in_bytes, trace.network_out_bytes],
        strict=True,
    ):
        assert [t for t, _ in got[qid]] == expected_ts
        assert np.allclose([v for _, v in got[qid]], column[:history])


def test_pages_split_by_max_datapoints_and_join_to_the_whole(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    cw = _tenant_session_client(sandbox, instance)
    first = sandbox.fleet.start.timestamp() + sandbox.shift()
    queries = [
        _query(instance.instance_id, "NetworkOut", "a"),
        _query(instance.instance_id, "CPUUtilization", "b"),
    ]
    whole = _points(cw, queries, first, first + DAY)
    page = cw.get_metric_data(
        MetricDataQueries=queries, StartTime=_at(first), EndTime=_at(first + DAY), MaxDatapoints=100
    )
    assert "NextToken" in page
    assert sum(len(r["Values"]) for r in page["MetricDataResults"]) == 100
    assert page["MetricDataResults"][0]["StatusCode"] == "PartialData"
    paged = _points(cw, queries, first, first + DAY, MaxDatapoints=100)
    assert paged == whole
    assert len(whole["a"]) == 288
    assert [t for t, _ in whole["a"]] == sorted(
        (t for t, _ in whole["a"]), reverse=True
    )  # newest first


def test_metrics_requested_are_counted(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    cw = _tenant_session_client(sandbox, instance)
    key = (instance.account_id, "monitoring", "GetMetricData")

    def requested() -> int:
        rows = sandbox.calls()
        return sum(
            r["metrics"] for r in rows if (r["account"], r["service"], r["operation"]) == key
        )

    before = requested()
    now = sandbox.now()
    queries = [
        _query(instance.instance_id, m, f"q{n}") for n, m in enumerate(["NetworkIn", "NetworkOut"])
    ]
    cw.get_metric_data(MetricDataQueries=queries, StartTime=_at(now - 3600), EndTime=_at(now))
    assert requested() == before + 2


def test_more_than_500_queries_is_refused(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    cw = _tenant_session_client(sandbox, instance)
    now = sandbox.now()
    with pytest.raises(ClientError) as info:
        cw.get_metric_data(
            MetricDataQueries=[_query(instance.instance_id, qid=f"q{n}") for n in range(501)],
            StartTime=_at(now - 3600),
            EndTime=_at(now),
        )
    assert info.value.response["Error"]["Code"] == "ValidationError"


def test_live_points_appear_as_the_clock_moves(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    trace = sandbox.fleet.traces[instance.instance_id]
    cw = _tenant_session_client(sandbox, instance)
    shift = sandbox.shift()
    now = sandbox.now()
    end = now + 2 * 3600
    before = _points(cw, [_query(instance.instance_id)], now - 3600, end)["m0"]
    assert all(t + 300 <= now for t, _ in before)
    after_now = sandbox.advance_clock(3600)
    after = _points(cw, [_query(instance.instance_id)], now - 3600, end)["m0"]
    assert len(after) - len(before) in {11, 12, 13}
    assert all(t + 300 <= after_now for t, _ in after)
    for t, v in after:
        index = int((t - shift - trace.start.timestamp()) // 300)
        assert v == pytest.approx(trace.cpu_percent[index])


def test_a_stopped_instance_produces_no_points(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_account_ids[1]
    instance = next(
        i
        for i in sandbox.fleet.instances.values()
        if i.account_id == tenant
        and i.root_device_type == "ebs"
        and i.lifecycle == "on-demand"
        and i.state == "running"
        and i.kind in BUSY
        and sandbox.fleet.traces[i.instance_id].start == sandbox.fleet.start
    )
    session = sandbox.tenant_session(tenant, instance.region)
    ec2 = sandbox.client("ec2", session, region=instance.region)
    cw = sandbox.client("cloudwatch", session, region=instance.region)
    ec2.modify_instance_attribute(InstanceId=instance.instance_id, DisableApiStop={"Value": False})
    # another suite sharing the session's sandbox may have stopped it: run it for 30 minutes
    ec2.start_instances(InstanceIds=[instance.instance_id])
    sandbox.advance_clock(1800)
    stopped_at = sandbox.now()
    ec2.stop_instances(InstanceIds=[instance.instance_id])
    sandbox.advance_clock(3600)
    ec2.start_instances(InstanceIds=[instance.instance_id])
    started_at = sandbox.now()
    sandbox.advance_clock(1800)
    points = _points(cw, [_query(instance.instance_id)], stopped_at - 1800, started_at + 1800)["m0"]
    stamps = [t for t, _ in points]
    # the stop lands a moment after stopped_at was read: allow that moment, no more
    assert not [t for t in stamps if t + 300 > stopped_at + 30 and t < started_at]
    assert [t for t in stamps if t >= started_at]  # back to producing once started
    assert [t for t in stamps if t + 300 <= stopped_at]


def test_get_metric_statistics_aggregates_hours(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    trace = sandbox.fleet.traces[instance.instance_id]
    cw = _tenant_session_client(sandbox, instance)
    first = trace.start.timestamp() + sandbox.shift()
    answer = cw.get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": instance.instance_id}],
        StartTime=_at(first),
        EndTime=_at(first + 6 * 3600),
        Period=3600,
        Statistics=["Average", "Maximum"],
    )
    points = answer["Datapoints"]
    assert len(points) == 6
    for hour, point in enumerate(sorted(points, key=lambda p: p["Timestamp"])):
        chunk = trace.cpu_percent[hour * 12 : (hour + 1) * 12]
        assert point["Average"] == pytest.approx(chunk.mean())
        assert point["Maximum"] == pytest.approx(chunk.max())
        assert point["Unit"] == "Percent"


def test_metrics_belong_to_their_account_and_region(sandbox: Sandbox) -> None:
    instance = _long_lived(sandbox)
    first = sandbox.fleet.start.timestamp() + sandbox.shift()
    window = (first, first + 3600)
    other_tenant = next(t for t in sandbox.tenant_account_ids if t != instance.account_id)
    other = sandbox.client(
        "cloudwatch", sandbox.tenant_session(other_tenant, instance.region), region=instance.region
    )
    assert _points(other, [_query(instance.instance_id)], *window)["m0"] == []
    other_region = next(r for r in ("us-east-1", "eu-west-1") if r != instance.region)
    session = sandbox.tenant_session(instance.account_id, other_region)
    wrong_region = sandbox.client("cloudwatch", session, region=other_region)
    assert _points(wrong_region, [_query(instance.instance_id)], *window)["m0"] == []
    own = _tenant_session_client(sandbox, instance)
    assert len(_points(own, [_query(instance.instance_id)], *window)["m0"]) == 12

    listed = [
        m
        for page in own.get_paginator("list_metrics").paginate(
            Namespace="AWS/EC2", MetricName="NetworkOut"
        )
        for m in page["Metrics"]
    ]
    listed_ids = {m["Dimensions"][0]["Value"] for m in listed}
    assert listed_ids == set(sandbox.instances(instance.account_id, instance.region))


def test_query_protocol_metric_reads_get_a_clear_error(sandbox: Sandbox) -> None:
    key, _ = sandbox.vendor_credentials
    answer = httpx.post(
        sandbox.endpoint_url,
        content="Action=GetMetricData&Version=2010-08-01",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261127/us-east-1/monitoring/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert "<Code>InvalidAction</Code>" in answer.text and "awsJson 1.0" in answer.text
