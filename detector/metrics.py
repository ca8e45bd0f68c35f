"""The detector worker's Prometheus series (served on ``detector.metrics_port``, 9302).

>>> m = WorkerMetrics(CollectorRegistry())
>>> m.dead_letter("schema: cpu_percent: Input should be less than or equal to 100")
>>> m.registry.get_sample_value("spendsense_detector_dead_letters_total", {"reason": "schema"})
1.0
"""

from __future__ import annotations

from collections.abc import Callable

from faust.types import TP

from spendsense.metrics import CollectorRegistry, Counter, Gauge, Histogram


class WorkerMetrics:
    """Counters and gauges of one detector worker, in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.processed: dict[TP, int] = {}  # last offset processed, per metrics partition
        self.ready = Gauge(
            "spendsense_detector_ready",
            "1 once the worker restored its table and read inventory and feedback in full.",
            registry=registry,
        )
        self.records = Counter(
            "spendsense_detector_records_consumed_total",
            "Metric records the detector consumed (valid or not).",
            registry=registry,
        )
        self.batches = Counter(
            "spendsense_detector_batches_total",
            "Batches sent to the model service.",
            registry=registry,
        )
        self.batch_records = Histogram(
            "spendsense_detector_batch_size_records",
            "Records per batch sent to the model service.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=registry,
        )
        self.model_seconds = Histogram(
            "spendsense_detector_model_call_seconds",
            "Time per model service call, retries included.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.detections = Counter(
            "spendsense_detector_detections_total",
            "Detections produced, by tenant and verdict (idle, provisional, active).",
            ["tenant", "verdict"],
            registry=registry,
        )
        self.lag = Gauge(
            "spendsense_detector_consumer_lag_records",
            "Records on the metrics topic not yet processed, by partition.",
            ["partition"],
            registry=registry,
        )
        self.errors = Counter(
            "spendsense_detector_errors_total",
            "Errors met by the detector, by kind (model_unavailable, model_error, ...).",
            ["kind"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "spendsense_detector_dead_letters_total",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "spendsense_detector_duplicates_total",
            "Metric records already learned (a redelivery), not learned twice.",
            registry=registry,
        )
        self.feedback_applied = Counter(
            "spendsense_detector_feedback_applied_total",
            "People's 'not idle' marks applied to an instance's model.",
            registry=registry,
        )

    def dead_letter(self, reason: str) -> None:
        """Count one dead letter under its reason's kind (the text before the first colon)."""
        self.dead_letters.labels(reason=reason.split(":", 1)[0].strip() or "other").inc()

    def update_lag(self, highwater: Callable[[TP], int | None]) -> None:
        """Set the lag gauge of each partition processed so far from its high-water mark."""
        for tp, offset in list(self.processed.items()):
            mark = highwater(tp)
            if mark is not None:
                self.lag.labels(partition=str(tp.partition)).set(max(mark - offset - 1, 0))
