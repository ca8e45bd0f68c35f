"""The detector agent reads both wire shapes of ``metrics`` during the change: version 1 (one
period a record) and version 2 (a poll's periods of one instance), and its duplicate check
is per period (real model service, Faust's ``test_context``)."""

from __future__ import annotations

from pathlib import Path

from detector.detect import InstanceState
from spendsense.events import DeadLetter, DetectionRecord, MetricPollRecord, parse_event
from spendsense.topics import METRICS_SPEC
from tests.detector.test_worker_agent import IDLE, drain, make_worker, sample
from tests.fixtures.detector import busy_week_then_quiet, series


async def test_polls_and_single_periods_give_the_same_detections_once_per_period(
    model_service_url: str, tmp_path: Path
) -> None:
    busy, quiet = busy_week_then_quiet("tenant-a", IDLE, 24, cpu=0.4)
    periods = [*busy[-36:], *quiet]
    polls = [
        poll
        for i in range(0, len(periods), 12)
        for poll in MetricPollRecord.pack(periods[i : i + 12])
    ]
    # version 1 for the first half, version 2 after; the last poll delivered twice, and a
    # poll overlapping what was learned (its first half redelivered)
    half = len(periods) // 2
    overlap = MetricPollRecord.pack(periods[half - 6 : half + 6])
    wire = [
        *(r.to_bytes() for r in periods[:half]),
        *(p.to_bytes() for p in overlap),
        *(p.to_bytes() for p in polls[(half + 6) // 12 :]),
        polls[-1].to_bytes(),
    ]
    by_poll = await detect_raw(model_service_url, tmp_path / "polls", wire, len(periods))
    one_by_one = await detect_raw(
        model_service_url, tmp_path / "v1", [r.to_bytes() for r in periods], len(periods)
    )
    assert [d.timestamp for d in by_poll] == [r.timestamp for r in periods]
    assert by_poll == one_by_one  # the same model, fed the same periods once each
    assert by_poll[-1].provisional and by_poll[-1].idle_since == quiet[0].timestamp


async def detect_raw(
    model_service_url: str, var_dir: Path, wire: list[bytes], count: int
) -> list[DetectionRecord]:
    """Raw ``metrics`` values through a fresh worker's agent: ``count`` detections, and the
    duplicates it skipped must be those beyond ``count`` periods."""
    worker = make_worker(model_service_url, var_dir)
    out = worker.output.detections_channel.clone(is_iterator=True)
    async with worker.agent.test_context() as agent:
        for value in wire:
            await agent.put(value, key=IDLE)
        detections = [parse_event(DetectionRecord, v) for v in await drain(out, count)]
    received = sum(len(METRICS_SPEC.parse(v).periods) for v in wire)
    assert sample(worker, "spendsense_detector_duplicates_total") == received - count
    state = InstanceState.from_json(worker.channels.states[IDLE])
    assert state.last_period == detections[-1].timestamp
    return detections


async def test_a_poll_the_model_rejects_is_one_dead_letter_not_one_per_period(
    model_service_url: str, tmp_path: Path
) -> None:
    worker = make_worker(model_service_url, tmp_path)
    dead = worker.output.deadletter_channel.clone(is_iterator=True)
    worker.channels.states[IDLE] = InstanceState(model="AAAA").to_json()
    [poll] = MetricPollRecord.pack(series("tenant-a", IDLE, 3, cpu=0.4))
    async with worker.agent.test_context() as agent:
        await agent.put(poll.to_bytes(), key=IDLE)
        letters = [parse_event(DeadLetter, v) for v in await drain(dead, 1)]
    assert len(letters) == 1 and letters[0].reason.startswith("model-rejected: not an Instance")
    assert METRICS_SPEC.parse(letters[0].raw) == poll  # the whole record, all three periods
    assert (
        sample(worker, "spendsense_detector_dead_letters_total", {"reason": "model-rejected"}) == 1
    )
