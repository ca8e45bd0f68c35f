"""The detector agent's feature logic under Faust's ``test_context`` (real model service).

The agent reads from an in-memory channel and writes detections and dead letters to in-memory
channels (``memory_outputs``); its state table is the real Faust table in the memory store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from faust.types import ChannelT

from detector.app import DetectorWorker, create_app
from detector.detect import InstanceState
from detector.protocol import CeilingsIn, SeriesItem, SeriesResult
from detector.scoring import Point, score_and_learn
from spendsense.events import (
    DeadLetter,
    DetectionRecord,
    FeedbackRecord,
    MetricRecord,
    TenantSettingsRecord,
    parse_event,
)
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from tests.fixtures.detector import busy_week_then_quiet, inventory, series

IDLE, OTHER = "i-0000000000000c01", "i-0000000000000c02"


def make_worker(model_service_url: str, tmp_path: Path, batch_size: int = 1000) -> DetectorWorker:
    settings = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    settings.kafka.topic_prefix = f"ctx{uuid.uuid4().hex[:8]}-"
    settings.detector.model_url = model_service_url
    settings.detector.batch_latency_ms = 20
    settings.detector.batch_size = batch_size
    settings.detector.store = "memory"  # ChannelOutput logs through the table
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


async def detect(worker: DetectorWorker, records: list[MetricRecord]) -> list[DetectionRecord]:
    """Put ``records`` through the agent; their detections, in order."""
    out = worker.output.detections_channel.clone(is_iterator=True)
    async with worker.agent.test_context() as agent:
        for r in records:
            await agent.put(r.to_bytes(), key=r.instance_id)
        return [parse_event(DetectionRecord, v) for v in await drain(out, len(records))]


async def test_quiet_instance_becomes_idle_with_its_monthly_waste(worker: DetectorWorker) -> None:
    busy, quiet = busy_week_then_quiet("tenant-a", IDLE, 14, cpu=0.4)
    detections = await detect(worker, [*busy, *quiet])
    assert [d.timestamp for d in detections] == [r.timestamp for r in [*busy, *quiet]]
    after = detections[len(busy) :]
    assert not any(d.idle or d.provisional for d in detections[: len(busy)])
    assert not after[0].idle and after[-1].idle and not after[-1].provisional
    assert after[-1].monthly_waste_usd == pytest.approx(0.2 * 730)
    assert after[-1].idle_since == quiet[0].timestamp
    assert after[-1].name == f"{IDLE}-name"
    state = InstanceState.from_json(worker.channels.states[IDLE])
    assert state.last_period == quiet[-1].timestamp and state.model


async def test_an_idle_verdict_on_a_period_behind_the_live_edge_is_provisional(
    worker: DetectorWorker,
) -> None:
    """The same series twice, one ending now and one ending two days ago: the model calls both
    idle; the worker lets only the one at the live edge alert (a backfill never alerts)."""
    worker.view.apply_inventory(inventory("tenant-a", OTHER, price=0.2))
    live = busy_week_then_quiet("tenant-a", IDLE, 12)
    past = busy_week_then_quiet("tenant-a", OTHER, 12, end=datetime.now(UTC) - timedelta(days=2))
    detections = await detect(worker, [*live.records, *past.records])
    now, then = detections[len(live.records) - 1], detections[-1]
    assert (now.instance_id, then.instance_id) == (IDLE, OTHER)
    assert (now.idle, now.provisional, now.status) == (True, False, "idle")
    assert (then.idle, then.provisional, then.status) == (False, True, "provisional")
    assert now.monthly_waste_usd == pytest.approx(0.2 * 730) and then.monthly_waste_usd == 0.0
    # the model's verdict is the same; only the worker's live-edge rule tells them apart
    assert then.reason.startswith(now.reason) and "a past period (backfill)" in then.reason
    assert then.confidence == now.confidence
    assert then.idle_since == past.quiet[0].timestamp


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
    busy, quiet = busy_week_then_quiet("tenant-a", IDLE, 16, cpu=0.4)
    records = [*busy, *quiet]
    async with worker.agent.test_context() as agent:
        for r in records[:-2]:
            await agent.put(r.to_bytes(), key=r.instance_id)
        before = [parse_event(DetectionRecord, v) for v in await drain(out, len(records) - 2)]
        assert before[-1].idle
        worker.view.apply_feedback(
            FeedbackRecord(
                tenant_id="tenant-a",
                instance_id=IDLE,
                actor="ops@example.com",
                at=datetime.now(UTC),
            )
        )
        for r in records[-2:]:
            await agent.put(r.to_bytes(), key=r.instance_id)
        after = [parse_event(DetectionRecord, v) for v in await drain(out, 2)]
    assert not any(d.idle or d.provisional for d in after)
    assert sample(worker, "spendsense_detector_feedback_applied_total") == 1
    assert InstanceState.from_json(worker.channels.states[IDLE]).feedback_at is not None


async def test_a_tenants_settings_put_its_ceilings_in_its_instances_items(
    worker: DetectorWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[SeriesItem] = []
    score_batch = worker.detector.client.score_batch

    async def spy(items: list[SeriesItem]) -> list[SeriesResult]:
        sent.extend(items)
        return await score_batch(items)

    monkeypatch.setattr(worker.detector.client, "score_batch", spy)
    worker.view.apply_inventory(inventory("tenant-b", OTHER))
    out = worker.output.detections_channel.clone(is_iterator=True)
    mine, theirs = series("tenant-a", IDLE, 3, cpu=1.5), series("tenant-b", OTHER, 3, cpu=1.5)

    def settings(**ceilings: float) -> TenantSettingsRecord:
        return TenantSettingsRecord(
            tenant_id="tenant-a", actor="ops@example.com", at=datetime.now(UTC), **ceilings
        )

    async with worker.agent.test_context() as agent:
        for step, change in enumerate(
            [None, settings(ceiling_cpu_percent=1.0), settings()]  # saved, then reset
        ):
            if change is not None:
                worker.view.apply_tenant_settings(change)
            for r in (mine[step], theirs[step]):
                await agent.put(r.to_bytes(), key=r.instance_id)
            detections = [parse_event(DetectionRecord, v) for v in await drain(out, 2)]
            assert {d.instance_id for d in detections} == {IDLE, OTHER}
    by_instance = {key: [i.ceilings for i in sent if i.key == key] for key in (IDLE, OTHER)}
    assert by_instance[IDLE] == [None, CeilingsIn(cpu_percent=1.0, network_bps=10_000.0), None]
    assert by_instance[OTHER] == [None, None, None]  # another tenant keeps the defaults


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
