"""The sandbox's pure parts: trust-policy evaluation, fault rules, the replayed timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import numpy as np
import pytest

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, FaultRule
from sandbox.fleet import Fleet, FleetInstance, Trace
from sandbox.timeline import WEEK_STEPS, Timeline
from sandbox.trust import Caller, allows, parse_policy

VENDOR = Caller("210987654321", "arn:aws:iam::210987654321:user/spendsense")


def _policy(**statement: object) -> dict[str, object]:
    base = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "210987654321"}}
    return {"Statement": [{**base, **statement}]}


@pytest.mark.parametrize(
    ("policy", "external_id", "allowed"),
    [
        (_policy(), None, True),
        (_policy(Principal={"AWS": ["arn:aws:iam::999999999999:root", VENDOR.arn]}), None, True),
        (_policy(Principal={"AWS": "arn:aws:iam::999999999999:root"}), None, False),
        (_policy(Principal={"Service": "ec2.amazonaws.com"}), None, False),
        (_policy(Action=["sts:TagSession"]), None, False),
        (_policy(Action="sts:*"), None, True),
        (_policy(Condition={"StringLike": {"sts:ExternalId": "ss-*"}}), "ss-42", True),
        (_policy(Condition={"StringLike": {"sts:ExternalId": "ss-*"}}), "xx-42", False),
        (_policy(Condition={"StringEquals": {"STS:EXTERNALID": ["a1", "b2"]}}), "b2", True),
        (_policy(Condition={"Null": {"sts:ExternalId": "false"}}), None, False),
        (_policy(Condition={"NumericLessThan": {"sts:ExternalId": "5"}}), "4", False),
        (
            {
                "Statement": [
                    *_policy()["Statement"],
                    {"Effect": "Deny", "Action": "*", "Principal": "*"},
                ]
            },  # type: ignore[list-item]
            None,
            False,
        ),
    ],
)
def test_trust_policy_evaluation(
    policy: dict[str, object], external_id: str | None, allowed: bool
) -> None:
    assert allows(policy, VENDOR, external_id) is allowed


def test_assumed_role_session_matches_its_role_and_encoded_documents_parse() -> None:
    role = "arn:aws:iam::210987654321:role/collector"
    session = Caller("210987654321", "arn:aws:sts::210987654321:assumed-role/collector/s1", role)
    document = quote(json.dumps(_policy(Principal={"AWS": role})))
    assert allows(parse_policy(document), session, None)
    assert not allows(parse_policy(document), VENDOR, None)


def test_fault_rule_caps_and_rejects_unknown_fields() -> None:
    plan = FaultPlan([FaultRule(throttle_rate=1.0, max_faults=2)])
    codes = [plan.decide("ce", "GetCostAndUsage", "1", "us-east-1")[1] for _ in range(4)]
    assert [c.code if c else None for c in codes] == ["LimitExceededException"] * 2 + [None] * 2
    assert plan.state()["injected"] == [2]
    with pytest.raises(ValueError, match="throttle"):
        FaultRule(throttle=0.5)  # type: ignore[call-arg]


def _fleet(points: int, state: str = "running") -> Fleet:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    instance = FleetInstance(
        instance_id="i-0123456789abcdef0",
        account_id="111111111111",
        tenant="acme",
        region="us-east-1",
        instance_type="m5.large",
        launch_time=start,
        lifecycle="on-demand",
        root_device_type="ebs",
        asg_name=None,
        kind="web-diurnal",
        state=state,
    )
    cpu = np.arange(points, dtype=np.float64)
    trace = Trace(start, cpu, cpu * 10, cpu * 100)
    return Fleet(
        None,
        {instance.instance_id: instance},
        {instance.instance_id: trace},
        {instance.instance_id: None},
    )


def test_timeline_replays_the_last_week_and_hides_unfinished_periods() -> None:
    wall = [datetime(2026, 12, 1, 12, 2, tzinfo=UTC).timestamp()]
    clock = SandboxClock(wall=lambda: wall[0])
    fleet = _fleet(points=WEEK_STEPS + 10)
    timeline = Timeline(fleet, clock, history_days=14)
    iid = next(iter(fleet.instances))
    start = clock.start // 300 * 300
    ts, cpu = timeline.values(iid, "CPUUtilization", timeline.slots(start - 600, start + 3600))
    assert ts.tolist() == [start - 600, start - 300]  # the 12:00 period ends after now (12:02)
    # history is 14 days (4032 points) but the trace has 2026: past its end, the last week repeats
    first = int(fleet.traces[iid].start.timestamp()) + timeline.shift
    index = (start - 600 - first) // 300
    assert cpu[0] == 10 + (index - (WEEK_STEPS + 10)) % WEEK_STEPS
    clock.advance(3600)
    assert timeline.slots(start, start + 3600).size == 12


def test_timeline_stop_history_and_stopped_fleet_instances() -> None:
    clock = SandboxClock(wall=lambda: 1_800_000_000.0)
    timeline = Timeline(_fleet(points=5000, state="stopped"), clock, history_days=14)
    iid = next(iter(timeline.fleet.instances))
    window = timeline.slots(clock.start - 86400, clock.start + 86400)
    before = timeline.values(iid, "CPUUtilization", window)[0]
    assert before.size == 288  # history is kept; a stopped instance has nothing live
    clock.advance(3600)
    assert (
        timeline.values(iid, "CPUUtilization", timeline.slots(clock.start, clock.start + 7200))[
            0
        ].size
        == 0
    )
    timeline.record(iid, "running")
    clock.advance(3600)
    live = timeline.values(iid, "CPUUtilization", timeline.slots(clock.start, clock.start + 7200))[
        0
    ]
    assert live.size == 11 or live.size == 12
    assert timedelta(seconds=int(live[0] - clock.start)) >= timedelta(hours=1)
