"""The ``metrics`` topic's two record shapes: version 2 (a poll's periods of one instance) and
version 1 (one period, no ``version`` field), both parsed by the topic's spec during the change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from spendsense.errors import PoisonRecord
from spendsense.events import MAX_POLL_PERIODS, MetricPollRecord, MetricRecord
from spendsense.topics import METRICS_SPEC

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WHERE = {
    "tenant_id": "t1",
    "account_id": "111111111111",
    "region": "us-east-1",
    "instance_id": "i-0abc12345",
}


def period(n: int, cpu: float = 2.0) -> MetricRecord:
    return MetricRecord(
        **WHERE, timestamp=T0 + timedelta(minutes=5 * n), cpu_percent=cpu, network_in_bytes=9.0
    )


def test_a_poll_is_one_record_and_reads_back_as_its_periods() -> None:
    periods = [period(n, cpu=float(n)) for n in range(12)]
    [poll] = MetricPollRecord.pack(periods)
    key, value = METRICS_SPEC.encode(poll)
    assert key == b"i-0abc12345"
    wire = json.loads(value)
    assert wire["version"] == 2 and len(wire["periods"]) == 12
    assert METRICS_SPEC.parse(value).records() == periods


def test_a_version_1_record_is_a_one_period_poll() -> None:
    old = period(3).model_dump_json().encode()  # what collectors published before the change
    assert b"version" not in old
    assert METRICS_SPEC.parse(old).records() == [period(3)]


def test_a_long_poll_is_split_in_time_order() -> None:
    periods = [period(n) for n in range(2 * MAX_POLL_PERIODS + 1)]
    polls = MetricPollRecord.pack(periods)
    assert [len(p.periods) for p in polls] == [MAX_POLL_PERIODS, MAX_POLL_PERIODS, 1]
    assert [r for p in polls for r in p.records()] == periods


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": 3}, r"^schema: version: Input should be 2"),
        ({"periods": []}, r"^schema: periods: List should have at least 1 item"),
        ({"periods": "reversed"}, r"^schema: periods: Value error, must be oldest first"),
        ({"periods": "repeated"}, r"^schema: periods: Value error, must be oldest first"),
        ({"cpu_percent": 101.0}, r"^schema: periods\.0\.cpu_percent: "),
    ],
)
def test_a_bad_record_of_either_shape_is_poison_with_its_reason(
    change: dict[str, object], reason: str
) -> None:
    [poll] = MetricPollRecord.pack([period(0), period(1)])
    data = json.loads(poll.to_bytes())
    if change.get("periods") == "reversed":
        data["periods"].reverse()
    elif change.get("periods") == "repeated":
        data["periods"][1] = data["periods"][0]
    elif "cpu_percent" in change:
        data = {**json.loads(period(0).to_bytes()), **change}  # a version 1 record
    else:
        data.update(change)
    with pytest.raises(PoisonRecord, match=reason):
        METRICS_SPEC.parse(json.dumps(data))
