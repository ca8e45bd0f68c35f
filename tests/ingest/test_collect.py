"""The collectors against the sandbox and the real broker: metrics exactly once, inventory, status."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ingest.cloudwatch import align
from spendsense.counters import cost_changes
from spendsense.metrics import CollectorRegistry
from spendsense.store.models import AwsAccount, CostCache, MetricCursor
from tests.ingest.conftest import IngestEnv, metric_periods, read_topic

pytestmark = [pytest.mark.kafka]


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cursors(env: IngestEnv) -> dict[str, MetricCursor]:
    with env.store() as session:
        return {row.instance_id: row for row in session.query(MetricCursor)}


def sandbox_periods(env: IngestEnv, start: datetime) -> set[tuple[str, str, str]]:
    """What the sandbox accounts hold: (tenant, instance, period) with a CPU point from
    ``start`` up to each instance's cursor."""
    ends = cursors(env)
    out = set()
    for tenant, ref in env.accounts.items():
        for region in ("us-east-1", "eu-west-1"):
            session = env.sandbox.assume(ref.role_arn, ref.external_id, region)
            cw = env.sandbox.client("cloudwatch", session, region)
            for iid in env.sandbox.instances(ref.account_id, region):
                cursor = ends.get(iid)
                if cursor is None or cursor.cursor_at <= start:
                    continue  # nothing collected since start: nothing owed yet
                query = {
                    "Id": "c",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "MetricName": "CPUUtilization",
                            "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                        },
                        "Period": 300,
                        "Stat": "Average",
                    },
                }
                resp = cw.get_metric_data(
                    MetricDataQueries=[query], StartTime=start, EndTime=cursor.cursor_at
                )
                for ts in resp["MetricDataResults"][0]["Timestamps"]:
                    out.add((tenant, iid, stamp(ts)))
    return out


def stoppable_running(ec2: Any) -> list[str]:
    """The running EBS-backed, non-spot instances of a sandbox region, in AWS's order."""
    return [
        i["InstanceId"]
        for r in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
        )["Reservations"]
        for i in r["Instances"]
        if i.get("RootDeviceType") == "ebs" and i.get("InstanceLifecycle") != "spot"
    ]


def assert_exactly_once(env: IngestEnv, start: datetime) -> list[tuple[str, str, str]]:
    """No (instance, period) twice on ``metrics``, none missing since ``start``."""
    published = metric_periods(env.settings.kafka)
    dupes = [k for k, n in Counter(published).items() if n > 1]
    assert not dupes, dupes[:5]
    got = {p for p in published if p[2] >= stamp(start)}
    want = sandbox_periods(env, start)
    assert got == want, (len(got - want), len(want - got), sorted(want - got)[:5])
    return published


@pytest.mark.parametrize("ingest_env", ["sqlite", "postgresql"], indirect=True)
def test_two_tenants_every_period_exactly_once_across_cycles(ingest_env: IngestEnv) -> None:
    registry = CollectorRegistry()
    service = ingest_env.service(registry, policy="naive")
    before = ingest_env.clock()
    results = service.run_cycle()
    assert sorted(r.status for r in results) == ["ok", "ok"], [r.line() for r in results]

    ingest_env.sandbox.advance_clock(1800)  # half an hour of live points appears
    results = service.run_cycle()
    assert all(r.status == "ok" for r in results)

    start = ingest_env.backfill_start(before)
    published = assert_exactly_once(ingest_env, start)
    assert {t for t, _, _ in published} == {"acme", "globex"}
    # the second cycle brought the live half hour (after the settle delay)
    end = max(c.cursor_at for c in cursors(ingest_env).values())
    assert end >= align(before + timedelta(seconds=1800 - 600))

    calls = registry.get_sample_value(
        "spendsense_aws_calls_total",
        {"tenant": "acme", "service": "cloudwatch", "operation": "GetMetricData"},
    )
    assert calls and calls >= 2
    spend = registry.get_sample_value(
        "spendsense_aws_estimated_spend_dollars_total", {"tenant": "acme"}
    )
    assert spend and spend > 0
    confirmed = registry.get_sample_value(
        "spendsense_ingest_records_published_total", {"tenant": "acme", "topic": "metrics"}
    )
    # records, each one poll of one instance (its periods checked above)
    records = [json.loads(m.value) for m in read_topic(ingest_env.settings.kafka, "metrics")]
    assert confirmed == sum(1 for r in records if r["tenant_id"] == "acme")


def test_inventory_follows_launch_stop_terminate(ingest_env: IngestEnv) -> None:
    service = ingest_env.service(collectors=["inventory"])
    service.run_cycle()
    ref = ingest_env.accounts["acme"]
    session = ingest_env.sandbox.assume(ref.role_arn, ref.external_id, "us-east-1")
    ec2 = ingest_env.sandbox.client("ec2", session, "us-east-1")
    running = stoppable_running(ec2)
    to_stop, to_terminate = running[0], running[1]
    ec2.stop_instances(InstanceIds=[to_stop])
    ec2.terminate_instances(InstanceIds=[to_terminate])
    launched = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )["Instances"][0]["InstanceId"]
    service.run_cycle()

    latest = {}
    for msg in read_topic(ingest_env.settings.kafka, "inventory"):
        latest[msg.key.decode()] = json.loads(msg.value)
    assert latest[to_stop]["state"] == "stopped"
    assert latest[to_terminate]["state"] == "terminated"
    assert latest[launched]["state"] in {"pending", "running"}
    assert latest[launched]["hourly_price_usd"] == 0.0104
    assert latest[launched]["tenant_id"] == "acme"
    fleet = ingest_env.sandbox.fleet.instances
    for iid, rec in latest.items():
        if iid in fleet:
            assert rec["instance_type"] == fleet[iid].instance_type
            assert rec["root_device_type"] == fleet[iid].root_device_type


def test_wrong_external_id_marks_that_account_only(ingest_env: IngestEnv) -> None:
    globex = ingest_env.accounts["globex"]
    with ingest_env.store.begin() as session:
        row = session.query(AwsAccount).filter_by(tenant_id="globex").one()
        row.external_id = "not-the-external-id-the-role-trusts-0123"
    registry = CollectorRegistry()
    service = ingest_env.service(registry)
    results = {r.tenant_id: r for r in service.run_cycle()}
    assert results["acme"].status == "ok"
    assert results["globex"].status == "error"
    with ingest_env.store() as session:
        stored = session.query(AwsAccount).filter_by(tenant_id="globex").one()
        assert stored.status == "error"
        assert stored.status_code == "AccessDenied"
        assert globex.role_arn in (stored.status_message or "")
        assert "ExternalId" in (stored.status_message or "")
        assert session.query(AwsAccount).filter_by(tenant_id="acme").one().status == "ok"
    tenants = {t for t, _, _ in metric_periods(ingest_env.settings.kafka)}
    assert tenants == {"acme"}
    assert (
        registry.get_sample_value(
            "spendsense_ingest_errors_total", {"tenant": "globex", "kind": "AccessDenied"}
        )
        == 1.0
    )
    assert (
        registry.get_sample_value(
            "spendsense_ingest_account_status",
            {"tenant": "globex", "account": globex.account_id, "status": "error"},
        )
        == 1.0
    )


def faulted_calls(env: IngestEnv, service: str) -> int:
    accounts = {ref.account_id for ref in env.accounts.values()}
    return sum(
        r.get("faulted", 0)
        for r in env.sandbox.calls()
        if r["service"] == service and r["account"] in accounts
    )


def test_throttling_is_retried_and_nothing_is_lost(ingest_env: IngestEnv) -> None:
    sandbox = ingest_env.sandbox
    throttled_before = faulted_calls(ingest_env, "monitoring") + faulted_calls(ingest_env, "ec2")
    sandbox.set_faults(throttle_rate=0.5, services=["monitoring", "ec2"], seed=5, max_faults=6)
    try:
        service = ingest_env.service(policy="naive")
        before = ingest_env.clock()
        results = [r for _ in range(2) for r in service.run_cycle()]
    finally:
        sandbox.clear_faults()
    throttled = faulted_calls(ingest_env, "monitoring") + faulted_calls(ingest_env, "ec2")
    assert throttled > throttled_before
    # retries absorb throttling; a call throttled past them fails its region for one cycle
    # only, and the account's status says it was throttled
    assert all(r.status == "ok" or "throttled" in r.message for r in results), [
        r.line() for r in results
    ]
    for result in service.run_cycle():
        assert result.status == "ok"
    assert_exactly_once(ingest_env, ingest_env.backfill_start(before))


def test_cost_explorer_budget_holds_over_a_simulated_day(ingest_env: IngestEnv) -> None:
    sandbox = ingest_env.sandbox
    now = [ingest_env.clock()]
    service = ingest_env.service(
        clock=lambda: now[0], collectors=["cost-explorer"], ce_refresh_h=1.0, ce_calls_per_day=4
    )
    accounts = [ref.account_id for ref in ingest_env.accounts.values()]
    before = {a: sandbox.call_count("ce", "GetCostAndUsage", a) for a in accounts}
    changes = cost_changes(ingest_env.settings.var_dir)
    told = changes.current()
    for _ in range(24 * 4):  # every 15 minutes for a day; the cache goes stale every hour
        service.run_cycle()
        now[0] += timedelta(minutes=15)
    for account in accounts:
        assert sandbox.call_count("ce", "GetCostAndUsage", account) - before[account] == 4
    with ingest_env.store() as session:  # where the dashboard's costs are read from
        cached = list(session.scalars(select(CostCache)))
    assert sorted(c.tenant_id for c in cached) == ["acme", "globex"]  # the latest answers
    assert changes.current() - told == 8  # every stored answer told the API processes
    assert all(c.lines for c in cached)
    assert {"day", "service", "region", "amount_usd"} <= set(cached[-1].lines[0])


def test_a_stopped_instance_gets_its_last_periods_then_is_left_alone(ingest_env: IngestEnv) -> None:
    service = ingest_env.service(policy="naive")
    before = ingest_env.clock()
    service.run_cycle()
    ref = ingest_env.accounts["acme"]
    ec2 = ingest_env.sandbox.client(
        "ec2", ingest_env.sandbox.assume(ref.role_arn, ref.external_id), "us-east-1"
    )
    victim = stoppable_running(ec2)[0]
    ingest_env.sandbox.advance_clock(600)
    ec2.stop_instances(InstanceIds=[victim])
    stopped_at = ingest_env.clock()
    service.run_cycle()  # inventory sees it stopped; its last periods have not settled yet
    assert cursors(ingest_env)[victim].final_poll_done is False
    ingest_env.sandbox.advance_clock(1200)
    service.run_cycle()  # the final poll
    row = cursors(ingest_env)[victim]
    assert row.final_poll_done is True
    assert row.cursor_at >= align(stopped_at)
    ingest_env.sandbox.advance_clock(1800)
    service.run_cycle()
    assert cursors(ingest_env)[victim].cursor_at == row.cursor_at  # not polled again
    published = assert_exactly_once(ingest_env, ingest_env.backfill_start(before))
    last = max(p for _, iid, p in published if iid == victim)
    assert last >= stamp(align(stopped_at) - timedelta(minutes=5))
