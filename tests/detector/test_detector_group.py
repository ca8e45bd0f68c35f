"""Two detector workers share ``metrics``'s partitions on the real broker; one is SIGKILLed in
the middle of the stream: its partitions move to the other with their state (RocksDB, the
standby copy and the changelog), every period is scored once, and detections resume within
the handover goal (30 s)."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from detector.tables import key_partition
from spendsense.events import DetectionRecord, MetricPollRecord, MetricRecord, parse_event
from spendsense.settings import KafkaSettings
from spendsense.topics import DETECTIONS, INVENTORY, METRICS
from tests.detector.test_e2e_pipeline import sample
from tests.fixtures.detector import StartWorker, consume_records, inventory, produce, series

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROUND = 3  # periods per poll record
HANDOVER_GOAL_S = 30.0


def one_instance_per_partition(partitions: int) -> list[str]:
    """Instance ids whose keys fall in each partition once."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        iid = f"i-{0xD000 + n:017x}"
        found.setdefault(key_partition(iid, partitions), iid)
        n += 1
    return [found[p] for p in range(partitions)]


def read_detections(
    kafka: KafkaSettings, count: int, timeout_s: float
) -> list[tuple[DetectionRecord, float]]:
    """``detections`` from the start until ``count`` distinct periods: each with its
    CreateTime (s). A period redelivered after the kill is one more record, not one more
    period, so the read does not stop before the last ones arrived."""

    def period(record: ConsumerRecord) -> tuple[str, datetime]:
        detection = parse_event(DetectionRecord, record.value)
        return detection.instance_id, detection.timestamp

    return [
        (parse_event(DetectionRecord, r.value), r.timestamp / 1000)
        for r in consume_records(kafka, DETECTIONS, count, timeout_s, distinct=period)
    ]


def test_a_killed_workers_partitions_move_with_their_state_and_nothing_is_scored_twice(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    instances = one_instance_per_partition(kafka.metrics_partitions)
    produce(kafka, INVENTORY, [(i, inventory("tenant-a", i).to_bytes()) for i in instances])
    start = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
    quiet = {i: series("tenant-a", i, 14 * ROUND, cpu=0.3, start=start) for i in instances}

    def send_round(r: int) -> list[MetricRecord]:
        periods = [p for i in instances for p in quiet[i][r * ROUND : (r + 1) * ROUND]]
        polls = [
            poll
            for i in instances
            for poll in MetricPollRecord.pack(quiet[i][r * ROUND : (r + 1) * ROUND])
        ]
        produce(kafka, METRICS, [(p.instance_id, p.to_bytes()) for p in polls])
        return periods

    doomed, doomed_port = start_worker(model_service_url)
    _, survivor_port = start_worker(model_service_url)
    consumed = "spendsense_detector_records_consumed_total"
    sent: list[MetricRecord] = []
    rounds = 0
    while rounds < 2 or min(sample(doomed_port, consumed), sample(survivor_port, consumed)) == 0:
        assert rounds < 8, "the second worker never got a share of the partitions"
        sent += send_round(rounds)
        rounds += 1
        assert len(read_detections(kafka, len(sent), timeout_s=60)) >= len(sent)

    sent += send_round(rounds)  # in flight while the worker dies
    doomed.stop(signal.SIGKILL)
    killed_at = time.time()
    after_kill = []
    for r in range(rounds + 1, 14):
        time.sleep(0.5)
        after_kill += send_round(r)
    sent += after_kill

    seen = read_detections(kafka, len(sent), timeout_s=90)
    by_period: dict[tuple[str, datetime], list[DetectionRecord]] = defaultdict(list)
    for detection, _ in seen:
        by_period[(detection.instance_id, detection.timestamp)].append(detection)
    assert set(by_period) == {(p.instance_id, p.timestamp) for p in sent}, "a period was lost"
    # scored once: a redelivered period is skipped by the state, so a copy can only be the same
    # detection sent again, never a second verdict from a model that learned the period twice
    assert all(len(set(copies)) == 1 for copies in by_period.values())

    # detections resumed for every instance, the killed worker's ones included, in time
    late = {(p.instance_id, p.timestamp) for p in after_kill}
    resumed: dict[str, float] = {}
    for detection, at in seen:
        if (detection.instance_id, detection.timestamp) in late:
            resumed[detection.instance_id] = min(at, resumed.get(detection.instance_id, at))
    handover = max(resumed.values()) - killed_at
    assert set(resumed) == set(instances) and handover <= HANDOVER_GOAL_S, handover

    # no model reset: every instance's quiet run still dates from its first period
    last = {d.instance_id: d for d, _ in sorted(seen, key=lambda s: s[0].timestamp)}
    assert all(last[i].idle_since == quiet[i][0].timestamp for i in instances)
    assert all(last[i].status == "provisional" for i in instances)
