"""End to end on the real broker: metrics records in, detections out, model service running;
a tenant's ceilings of rest saved through the API change what the worker says."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from spendsense.events import (
    AnomalyRecord,
    DeadLetter,
    DetectionRecord,
    FeedbackRecord,
    MetricRecord,
    parse_event,
)
from spendsense.metrics import CollectorRegistry
from spendsense.ports import free_port
from spendsense.settings import ApiSettings, KafkaSettings, Settings, StoreSettings
from spendsense.topics import ANOMALIES, DEADLETTER, DETECTIONS, FEEDBACK, INVENTORY, METRICS
from tests.api.conftest import sign_up
from tests.fixtures.detector import (
    ACCOUNT,
    PERIOD,
    WEEK_PERIODS,
    StartWorker,
    busy_week_then_quiet,
    consume,
    inventory,
    produce,
    series,
    start_model_service,
)
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

IDLE, BUSY = "i-00000000000000a1", "i-00000000000000b2"


def sample(port: int, name: str, labels: str = "") -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.split()[-1])
    return 0.0


def test_metrics_in_detections_out(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    produce(
        kafka,
        INVENTORY,
        [(i, inventory("tenant-a", i).to_bytes()) for i in (IDLE, BUSY)],
    )
    _, metrics_port = start_worker(model_service_url)
    week, idle = busy_week_then_quiet("tenant-a", IDLE, 30)
    busy = series("tenant-a", BUSY, 30, cpu=45.0, start=idle[0].timestamp)
    records = [*week, *(r for pair in zip(idle, busy, strict=True) for r in pair)]
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records])

    raw = consume(kafka, DETECTIONS, len(records), timeout_s=90)
    detections = [parse_event(DetectionRecord, v) for v in raw]
    assert len(detections) == len(records)
    seen = {(d.instance_id, d.timestamp) for d in detections}
    assert seen == {(r.instance_id, r.timestamp) for r in records}

    last = {d.instance_id: d for d in sorted(detections, key=lambda d: d.timestamp)}
    assert last[IDLE].idle and last[IDLE].idle_since == idle[0].timestamp
    assert last[IDLE].monthly_waste_usd == pytest.approx(0.096 * 730)
    assert "a clean floor" in last[IDLE].reason and "busy hours averaged 45%" in last[IDLE].reason
    assert (last[IDLE].tenant_id, last[IDLE].instance_type) == ("tenant-a", "m5.large")
    assert not any(d.idle for d in detections if d.instance_id == BUSY)
    assert all(d.monthly_waste_usd == 0.0 for d in detections if not d.idle)

    # batched: far fewer model calls than records
    batches = sample(metrics_port, "spendsense_detector_batches_total")
    assert 1 <= batches < len(records) / 4
    assert sample(metrics_port, "spendsense_detector_records_consumed_total") == len(records)
    assert sample(
        metrics_port, "spendsense_detector_detections_total", '{tenant="tenant-a",verdict="idle"}'
    ) == sum(d.idle for d in detections)
    # the lag gauge (set every 5 s) shows every partition that had records caught up
    deadline = time.monotonic() + 15
    text = ""
    while "spendsense_detector_consumer_lag_records{" not in text:
        assert time.monotonic() < deadline, "no consumer lag gauge"
        time.sleep(0.5)
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    lags = [ln for ln in text.splitlines() if ln.startswith("spendsense_detector_consumer_lag")]
    assert lags and all(ln.endswith(" 0.0") for ln in lags)


def test_poison_records_go_to_dead_letters_and_the_stream_goes_on(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    produce(kafka, INVENTORY, [(IDLE, inventory("tenant-a", IDLE).to_bytes())])
    _, metrics_port = start_worker(model_service_url)
    good = series("tenant-a", IDLE, 6, cpu=0.3)
    text = good[0].model_dump_json()
    poison = [
        b"{not json",
        b'{"tenant_id": "tenant-a"}',
        text.replace('"cpu_percent":0.3', '"cpu_percent":NaN').encode(),
        good[0].model_copy(update={"cpu_percent": 1e9}).model_dump_json().encode(),
        good[0].model_copy(update={"tenant_id": "nobody"}).to_bytes(),
        good[0].model_copy(update={"timestamp": good[0].timestamp.replace(year=2099)}).to_bytes(),
    ]
    assert b"NaN" in poison[2]
    mixed = [(IDLE, good[0].to_bytes())] + [(IDLE, p) for p in poison]
    mixed += [(IDLE, r.to_bytes()) for r in good[1:]]
    produce(kafka, METRICS, mixed)

    detections = [parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, 6, 60)]
    assert sorted(d.timestamp for d in detections) == [r.timestamp for r in good]
    letters = [parse_event(DeadLetter, v) for v in consume(kafka, DEADLETTER, 6, 30)]
    reasons = [letter.reason for letter in sorted(letters, key=lambda x: x.offset or 0)]
    assert [r.split(":")[0] for r in reasons] == [
        "json",
        "schema",
        "schema",
        "schema",
        "unknown-tenant",
        "absurd",
    ]
    assert "cpu_percent" in reasons[2] and "cpu_percent" in reasons[3]
    assert all(letter.source_topic.endswith(METRICS) for letter in letters)
    assert letters[0].raw == "{not json"
    dead = "spendsense_detector_dead_letters_total"
    assert sample(metrics_port, dead, '{reason="schema"}') == 3
    assert sample(metrics_port, dead, '{reason="json"}') == 1


def test_model_service_down_then_up_loses_nothing(
    kafka: KafkaSettings, start_worker: StartWorker, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # nothing serves here yet
    produce(kafka, INVENTORY, [(IDLE, inventory("tenant-a", IDLE).to_bytes())])
    first, metrics_port = start_worker(url)
    records = series("tenant-a", IDLE, 12, cpu=0.3)
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records])

    unavailable = '{kind="model_unavailable"}'
    deadline = time.monotonic() + 30
    while sample(metrics_port, "spendsense_detector_errors_total", unavailable) < 2:
        assert time.monotonic() < deadline, "the worker never tried the model service"
        time.sleep(0.5)
    assert consume(kafka, DETECTIONS, 1, timeout_s=2) == []
    # stopped in the middle of the outage: the stuck batch must not be committed on the way out
    assert first.stop() == 0

    start_worker(url)
    service = start_model_service(port, tmp_path / "checkpoint.json", tmp_path / "service.log")
    try:
        detections = [
            parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, len(records), 60)
        ]
    finally:
        service.stop()
    assert sorted(d.timestamp for d in detections) == [r.timestamp for r in records]
    # one series, in order: 55 minutes at a clean floor and no history, so provisional
    assert detections[-1].status == "provisional"
    assert detections[-1].idle_since == records[0].timestamp


def test_a_worker_after_a_crash_restores_instance_state_from_the_changelog(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    produce(kafka, INVENTORY, [(IDLE, inventory("tenant-a", IDLE).to_bytes())])
    first, _ = start_worker(model_service_url)
    records = series("tenant-a", IDLE, 16, cpu=0.3)
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[:8]])
    assert len(consume(kafka, DETECTIONS, 8, timeout_s=60)) == 8
    first.stop(signal.SIGKILL)  # a crash: nothing is flushed or committed on the way out

    start_worker(model_service_url)  # restores the state table from its changelog topic
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[8:]])
    detections = [parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, 16, 60)]
    assert sorted(d.timestamp for d in detections) == [r.timestamp for r in records]
    last = max(detections, key=lambda d: d.timestamp)
    # 75 minutes quiet and no history: provisional; a model starting over would date the quiet
    # run from the 9th record, and 35 minutes of quiet is not even provisional
    assert last.status == "provisional" and last.idle_since == records[0].timestamp


def test_feedback_on_the_topic_stops_the_idle_verdict(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    produce(kafka, INVENTORY, [(IDLE, inventory("tenant-a", IDLE).to_bytes())])
    _, metrics_port = start_worker(model_service_url)
    week, quiet = busy_week_then_quiet("tenant-a", IDLE, 16)
    records = [*week, *quiet]
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[:-4]])
    first = [
        parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, len(week) + 12, 90)
    ]
    assert max(first, key=lambda d: d.timestamp).idle

    said = FeedbackRecord(
        tenant_id="tenant-a", instance_id=IDLE, actor="owner@example.com", at=datetime.now(UTC)
    )
    produce(kafka, FEEDBACK, [(IDLE, said.to_bytes())])
    time.sleep(2)  # every worker reads the feedback topic in full, within half a second
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[-4:]])
    later = [parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, len(records), 90)]
    after = [d for d in later if d.timestamp >= quiet[12].timestamp]
    assert len(after) == 4 and not any(d.idle or d.provisional for d in after)
    assert sample(metrics_port, "spendsense_detector_feedback_applied_total") == 1


def web_server_with_surges(
    instance: str, periods: int, surges: list[tuple[int, int]]
) -> list[MetricRecord]:
    """A steady web server's ``periods`` points ending at the live edge, with an egress surge
    (900 MB per 5 minutes, 3 MB/s) at each ``(start index, length in periods)`` of ``surges``."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    last = now - timedelta(minutes=now.minute % 5) - 2 * PERIOD
    first = last - (periods - 1) * PERIOD
    surging = {i for start, length in surges for i in range(start, start + length)}
    return [
        MetricRecord(
            tenant_id="tenant-a",
            account_id=ACCOUNT,
            region="us-east-1",
            instance_id=instance,
            timestamp=first + i * PERIOD,
            cpu_percent=20.0 + i % 5,
            network_in_bytes=4e6 + (i % 7) * 1e5,
            network_out_bytes=9e8 if i in surging else 5e6 + (i % 11) * 1e5,
        )
        for i in range(periods)
    ]


def test_an_egress_surge_is_one_priced_incident_and_expected_silences_the_next(
    kafka: KafkaSettings, model_service_url: str, start_worker: StartWorker
) -> None:
    produce(kafka, INVENTORY, [(BUSY, inventory("tenant-a", BUSY).to_bytes())])
    _, metrics_port = start_worker(model_service_url)
    n = WEEK_PERIODS + 288 + 72  # eight days of history, then six hours at the live edge
    # an hour's surge, then one of 4.5 hours: new by its duration (2.5 times the longest seen,
    # plus an hour) unless the first was called expected; both within the 7-hour live edge
    records = web_server_with_surges(BUSY, n, surges=[(n - 80, 12), (n - 62, 54)])
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[: n - 62]])
    opened, closed = (parse_event(AnomalyRecord, v) for v in consume(kafka, ANOMALIES, 2, 120))
    assert (opened.status, closed.status) == ("open", "closed")
    assert opened.incident_id == closed.incident_id
    assert (opened.metric, opened.direction, opened.observed) == ("network_out_bytes", "up", 9e8)
    assert (
        opened.since == records[n - 80].timestamp and opened.timestamp == records[n - 79].timestamp
    )
    assert closed.ended_at == records[n - 66].timestamp
    assert opened.expected_low < 5.1e6 < opened.expected_high < 7e6
    assert opened.dollars_per_hour == pytest.approx(9e8 * 12 / 1e9 * 0.09, rel=0.02)
    assert "$0.09 per GB in us-east-1" in opened.cost_basis
    assert (opened.instance_type, opened.name) == ("m5.large", f"{BUSY}-name")

    expected = FeedbackRecord(
        tenant_id="tenant-a",
        instance_id=BUSY,
        verdict="anomaly-expected",
        incident_id=opened.incident_id,
        metric="network_out_bytes",
        actor="owner@example.com",
        at=datetime.now(UTC),
    )
    produce(kafka, FEEDBACK, [(BUSY, expected.to_bytes())])
    time.sleep(2)  # every worker reads the feedback topic in full, within half a second
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records[n - 62 :]])
    assert len(consume(kafka, DETECTIONS, n, 120)) == n  # the second surge was scored
    assert len(consume(kafka, ANOMALIES, 3, timeout_s=5)) == 2  # and raised nothing
    assert sample(metrics_port, "spendsense_detector_feedback_applied_total") == 1


def test_ceilings_saved_in_settings_change_the_verdict(
    kafka: KafkaSettings,
    model_service_url: str,
    start_worker: StartWorker,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    """One tenant lowers its CPU ceiling to 1 % in Settings; the same quiet series at 1.5 %
    rests under another tenant's defaults and never rests under the lowered ceiling."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=tmp_path,
        kafka=kafka,
        aws=sandbox.aws_settings(),  # sign-up mails its confirmation through the sandbox's SES
        store=StoreSettings(url=f"sqlite:///{tmp_path}/api.db"),
        api=ApiSettings(session_secret=SecretStr("e" * 48)),
    )
    app = create_app(settings, registry=CollectorRegistry())
    with TestClient(app):  # the lifespan: migrates the store
        strict, lenient = sign_up(app), sign_up(app)
        saved = strict.client.put(
            "/api/settings/ceilings",
            json={"cpu_percent": 1.0},
            headers={"X-CSRF-Token": strict.csrf},
        )
        assert saved.status_code == 200, saved.text
    app.state.spendsense.engine.dispose()
    produce(
        kafka,
        INVENTORY,
        [
            (IDLE, inventory(strict.tenant_id, IDLE).to_bytes()),
            (BUSY, inventory(lenient.tenant_id, BUSY).to_bytes()),
        ],
    )
    start_worker(model_service_url)  # reads tenant-settings in full at start
    records = series(strict.tenant_id, IDLE, 12, cpu=1.5) + series(
        lenient.tenant_id, BUSY, 12, cpu=1.5
    )
    produce(kafka, METRICS, [(r.instance_id, r.to_bytes()) for r in records])
    detections = [parse_event(DetectionRecord, v) for v in consume(kafka, DETECTIONS, 24, 60)]
    assert len(detections) == 24
    rests = {
        iid: [d.idle_since is not None for d in detections if d.instance_id == iid]
        for iid in (IDLE, BUSY)
    }
    assert rests == {IDLE: [False] * 12, BUSY: [True] * 12}
