"""The detector agent's feature logic under Faust's ``test_context`` (real model service).

The agent reads from an in-memory channel and writes detections and dead letters to in-memory
channels (``memory_outputs``); its state table is the real Faust table in the memory store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faust.types import ChannelT

from detector.app import DetectorWorker, create_app
from detector.detect import InstanceState
from detector.scoring import Point, score_and_learn
from spendsense.events import DeadLetter, DetectionRecord, FeedbackRecord, parse_event
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from tests.fixtures.detector import inventory, series

IDLE, OTHER = "i-0000000000000c01", "i-0000000000000c02"


def make_worker(model_service_url: str, tmp_path: Path, batch_size: int = 1000) -> DetectorWorker:
    settings = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    settings.kafka.topic_prefix = f"ctx{uuid.uuid4().hex[:8]}-"
    settings.detector.model_url = model_service_url
    settings.detector.batch_latency_ms = 20
    settings.detector.batch_size = batch_size
    w = create_app(settings, CollectorRegistry(), memory_outputs=True)
    w.view.apply_inventory(inventory("tenant-a", IDLE, price=0.2))
    w.view.ready.set()
    return w


@pytest.fixture
async def worker(model_service_url: str, tmp_path: Path) -> AsyncIterator[DetectorWorker]:
    yield make_worker(model_service_url, tmp_path)


async def drain(channel: ChannelT, count: int) -> list[bytes]:
    return [(await channel.get(timeout=20)).value for _ in range(count)]


def sample(w: DetectorWorker, name: str, labels: dict[str, str] | None = None) -> float:
    return w.metrics.registry.get_sample_value(name, labels or {}) or 0.0


async def test_quiet_instance_becomes_idle_with_its_monthly_waste(worker: DetectorWorker) -> None:
    out = worker.output.detections_channel.clone(is_iterator=True)
    records = series("tenant-a", IDLE, 14, cpu=0.4)
    async with worker.agent.test_context() as agent:
        for r in records:
            await agent.put(r.to_bytes(), key=r.instance_id)
        detections = [parse_event(DetectionRecord, v) for v in await drain(out, len(records))]
    assert [d.timestamp for d in detections] == [r.timestamp for r in records]
    assert not detections[0].idle and detections[-1].idle
    assert detections[-1].monthly_waste_usd == pytest.approx(0.2 * 730)
    assert detections[-1].idle_since == records[0].timestamp
    assert detections[-1].name == f"{IDLE}-name"
    state = InstanceState.from_json(worker.channels.states[IDLE])
    assert state.last_period == records[-1].timestamp and state.model


async def test_a_redelivered_period_is_not_learned_twice(worker: DetectorWorker) -> None:
    out = worker.output.detections_channel.clone(is_iterator=True)
    records = series("tenant-a", IDLE, 4, cpu=0.4)
    async with worker.agent.test_context() as agent:
        for r in [*records[:3], records[1], records[2], records[3]]:
            await agent.put(r.to_bytes(), key=r.instance_id)
        detections = [parse_event(DetectionRecord, v) for v in await drain(out, 4)]
    assert [d.timestamp for d in detections] == [r.timestamp for r in records]
    assert sample(worker, "spendsense_detector_duplicates_total") == 2
    assert out.empty()


async def test_feedback_not_idle_is_applied_once_to_the_model(worker: DetectorWorker) -> None:
    out = worker.output.detections_channel.clone(is_iterator=True)
    records = series("tenant-a", IDLE, 16, cpu=0.4)
    async with worker.agent.test_context() as agent:
        for r in records[:14]:
            await agent.put(r.to_bytes(), key=r.instance_id)
        before = [parse_event(DetectionRecord, v) for v in await drain(out, 14)]
        assert before[-1].idle
        worker.view.apply_feedback(
            FeedbackRecord(
                tenant_id="tenant-a",
                instance_id=IDLE,
                actor="ops@example.com",
                at=datetime.now(UTC),
            )
        )
        for r in records[14:]:
            await agent.put(r.to_bytes(), key=r.instance_id)
        after = [parse_event(DetectionRecord, v) for v in await drain(out, 2)]
    assert not any(d.idle for d in after)
    assert sample(worker, "spendsense_detector_feedback_applied_total") == 1
    assert InstanceState.from_json(worker.channels.states[IDLE]).feedback_at is not None


async def test_a_record_claiming_another_tenants_instance_is_a_dead_letter(
    worker: DetectorWorker,
) -> None:
    dead = worker.output.deadletter_channel.clone(is_iterator=True)
    out = worker.output.detections_channel.clone(is_iterator=True)
    worker.view.apply_inventory(inventory("tenant-b", OTHER))
    forged = series("tenant-b", IDLE, 1, cpu=1.0)[0]
    honest = series("tenant-b", OTHER, 1, cpu=1.0)[0]
    async with worker.agent.test_context() as agent:
        await agent.put(forged.to_bytes(), key=IDLE)
        await agent.put(honest.to_bytes(), key=OTHER)
        [letter] = [parse_event(DeadLetter, v) for v in await drain(dead, 1)]
        [detection] = [parse_event(DetectionRecord, v) for v in await drain(out, 1)]
    assert letter.reason.startswith("unknown-tenant: instance i-0000000000000c01 belongs")
    assert detection.instance_id == OTHER and detection.tenant_id == "tenant-b"
    assert IDLE not in worker.channels.states
    assert (
        sample(worker, "spendsense_detector_dead_letters_total", {"reason": "unknown-tenant"}) == 1
    )


async def test_a_state_the_model_cannot_read_is_a_dead_letter_and_starts_over(
    worker: DetectorWorker,
) -> None:
    dead = worker.output.deadletter_channel.clone(is_iterator=True)
    out = worker.output.detections_channel.clone(is_iterator=True)
    worker.channels.states[IDLE] = InstanceState(model="AAAA").to_json()
    records = series("tenant-a", IDLE, 2, cpu=0.4)
    async with worker.agent.test_context() as agent:
        await agent.put(records[0].to_bytes(), key=IDLE)
        [letter] = [parse_event(DeadLetter, v) for v in await drain(dead, 1)]
        await agent.put(records[1].to_bytes(), key=IDLE)
        [detection] = [parse_event(DetectionRecord, v) for v in await drain(out, 1)]
    assert letter.reason.startswith("model-rejected: not an InstanceModel state")
    assert detection.timestamp == records[1].timestamp
    assert sample(worker, "spendsense_detector_errors_total", {"kind": "bad_state"}) == 1
    assert InstanceState.from_json(worker.channels.states[IDLE]).model not in (None, "AAAA")


async def test_small_overlapping_batches_give_the_answers_of_one_pass(
    model_service_url: str, tmp_path: Path
) -> None:
    """Batches of 5 overlap (one is scored while the one before it is sent): each must start
    from the state the batch before it left, as if the series went through the model at once."""
    w = make_worker(model_service_url, tmp_path, batch_size=5)
    out = w.output.detections_channel.clone(is_iterator=True)
    busy = series("tenant-a", IDLE, 60, cpu=35.0)
    quiet = series("tenant-a", IDLE, 60, cpu=0.5, start=busy[-1].timestamp)[1:]
    records = [
        r.model_copy(update={"cpu_percent": (r.cpu_percent or 0.0) + (i % 7)})
        for i, r in enumerate([*busy, *quiet])
    ]
    async with w.agent.test_context() as agent:
        for r in records:
            await agent.put(r.to_bytes(), key=r.instance_id)
        detections = [parse_event(DetectionRecord, v) for v in await drain(out, len(records))]
    expected, _ = score_and_learn(
        None,
        [
            Point(r.timestamp, r.cpu_percent, r.network_in_bytes, r.network_out_bytes)
            for r in records
        ],
    )
    assert sample(w, "spendsense_detector_batches_total") >= len(records) / 5
    assert [(d.score, d.idle, d.reason) for d in detections] == [
        (min(max(v.score, 0.0), 1.0), v.idle, v.reason) for v in expected
    ]
