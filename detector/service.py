"""The model service: ``bentoml serve detector.service:ModelService --port 3000``.

Endpoints (all POST, JSON):

* ``/score_batch`` (batchable): ``{"items": [SeriesItem, ...]}`` -> ``[SeriesResult, ...]``.
  Each item carries an instance's learned state and new points; the answer carries one verdict
  per point and the updated state. BentoML merges concurrent callers' items into one batch.
* ``/score_series``: ``{"points": [PointIn, ...]}`` -> one :class:`SeriesResult` for a series
  scored from a fresh model (or from ``state`` when given): the endpoint a person can curl.
* ``/status``: the service's fleet-wide counters (what its checkpoint holds).

BentoML serves ``/readyz`` (readiness), ``/livez`` and ``/metrics`` (Prometheus, with the
``spendsense_model_*`` series defined here beside BentoML's own). They live in
prometheus_client's default registry, as BentoML 1.4 wants (it collects it across its worker
processes; ``bentoml.metrics`` is deprecated).

The service keeps no per-instance state, so any number of workers or replicas can serve any
batch (it caches live models, :mod:`detector.warm`, but an item's state bytes decide). Its
own counters are checkpointed to ``detector.checkpoint_path`` every ``checkpoint_interval_s``
and on shutdown, and read back at start; with ``detector.service_workers`` > 1 each worker
process keeps its own file.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import bentoml
from prometheus_client import Counter, Histogram

from detector.checkpoint import Checkpointer, ServiceState
from detector.protocol import (
    PointIn,
    SeriesItem,
    SeriesResult,
)
from detector.warm import WarmModels
from spendsense.logs import redact_handlers
from spendsense.settings import get_settings

log = logging.getLogger(__name__)

# BentoML's server processes configure their logging before they import this module.
redact_handlers()

_settings = get_settings().detector

RECORDS = Counter(
    name="spendsense_model_records_scored_total",
    documentation="Metric points scored and learned by the model service.",
    labelnames=["endpoint"],
)
LATENCY = Histogram(
    name="spendsense_model_batch_latency_seconds",
    documentation="Model time per batch (scoring and learning, without HTTP).",
    labelnames=["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_SIZE = Histogram(
    name="spendsense_model_batch_size_records",
    documentation="Metric points per batch the model scored.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000),
)
ERRORS = Counter(
    name="spendsense_model_errors_total",
    documentation="Items the model service could not score, by kind.",
    labelnames=["kind"],
)


def worker_checkpoint(path: Path, workers: int) -> Path:
    """This worker process's checkpoint file: ``path`` itself when there is one worker."""
    index = bentoml.server_context.worker_index
    if workers == 1 or index is None:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix}")


@bentoml.service(
    name="spendsense-model",
    workers=_settings.service_workers,
    traffic={"timeout": 60},
)
class ModelService:
    """Scores metric series and learns from them; holds fleet-wide counters only."""

    def __init__(self) -> None:
        self.checkpointer = Checkpointer(
            worker_checkpoint(_settings.checkpoint_path, _settings.service_workers),
            _settings.checkpoint_interval_s,
        )
        self.state: ServiceState = self.checkpointer.load()
        self.models = WarmModels(_settings.warm_models)
        self._dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._saver = threading.Thread(target=self._save_periodically, daemon=True)
        self._saver.start()
        log.info(
            "model service restored %d scored records from %s",
            self.state.records_scored,
            self.checkpointer.path,
        )

    def _save_periodically(self) -> None:
        while not self._stop.wait(self.checkpointer.interval_s):
            self._checkpoint()

    def _checkpoint(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self.checkpointer.save(self.state)
            self._dirty = False

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        """Save the counters one last time."""
        self._stop.set()
        self._checkpoint()
        log.info("model service checkpoint written to %s", self.checkpointer.path)

    def _score(self, items: list[SeriesItem], endpoint: str) -> list[SeriesResult]:
        started = time.perf_counter()
        results: list[SeriesResult] = []
        records = new = idle = 0
        for item in items:
            try:
                result, was_new = self.models.score(item)
            except ValueError as exc:
                ERRORS.labels(kind="bad_state").inc()
                results.append(SeriesResult(key=item.key, error=str(exc)))
                continue
            results.append(result)
            records += len(item.points)
            new += was_new
            idle += sum(v.idle for v in result.verdicts)
        LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        BATCH_SIZE.observe(records)
        RECORDS.labels(endpoint=endpoint).inc(records)
        with self._lock:
            self.state.add_batch(records=records, series=len(items), new_instances=new, idle=idle)
            self._dirty = True
        return results

    @bentoml.api(
        batchable=True,
        max_batch_size=_settings.service_max_batch_size,
        max_latency_ms=_settings.service_max_latency_ms,
    )
    def score_batch(self, items: list[SeriesItem]) -> list[SeriesResult]:
        """Score and learn a batch: one item per instance, state in, updated state out."""
        return self._score(items, "score_batch")

    @bentoml.api
    def score_series(self, points: list[PointIn], state: str | None = None) -> SeriesResult:
        """Score one series (a fresh model unless ``state`` is given), point by point."""
        [result] = self._score(
            [SeriesItem(key="series", state=state, points=points)], "score_series"
        )
        if result.error is not None:
            raise bentoml.exceptions.InvalidArgument(f"state: {result.error}")
        return result

    @bentoml.api
    def status(self) -> ServiceState:
        """The fleet-wide counters, as the checkpoint holds them."""
        with self._lock:
            return self.state.model_copy()
