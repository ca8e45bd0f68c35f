"""The Faust floor: what the detector's Faust app costs per record before any work of ours.

``faust -L uvloop -A bench.faust_floor worker`` runs one agent on the ``metrics`` topic with the
detector's own app settings (:func:`detector.app.faust_app`), the same batches (``noack_take``
of ``detector.batch_size`` within ``detector.batch_latency_ms``) and the same acknowledgement of
every record, and nothing else: no parsing, no model, no output. It reads the topic from the
start as its own consumer group and, once it has seen ``BENCH_FLOOR_RECORDS`` records, writes
``{"records", "seconds", "cpu_seconds"}`` (after its first batch; CPU of all its threads) as
JSON to ``BENCH_FLOOR_OUT``. :mod:`bench.pipeline` runs it on the topic it has just measured
the pipeline on: the highest rate a Faust agent reaches there, in records (Kafka messages; the
pipeline multiplies by the periods each record carries).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import cast

from faust import Stream
from faust.types import StreamT

from detector.app import faust_app
from detector.tables import metrics_topic
from spendsense.settings import get_settings

settings = get_settings()
app = faust_app(settings, f"{settings.kafka.topic_prefix}faust-floor")
RECORDS = int(os.environ.get("BENCH_FLOOR_RECORDS", "0"))
OUT = Path(os.environ.get("BENCH_FLOOR_OUT", "faust-floor.json"))


@app.agent(metrics_topic(app, settings.kafka), name="floor", concurrency=1)
async def floor(stream: StreamT) -> None:
    det = settings.detector
    seen, first, started, cpu = 0, 0, 0.0, 0.0
    async for taken in cast(Stream, stream).noack_take(
        det.batch_size, within=det.batch_latency_ms / 1000
    ):
        if not seen:  # the clocks start once the first batch is in: it is not counted
            started, cpu, first = time.perf_counter(), time.process_time(), len(taken)
        for event in taken:
            await stream.ack(event)
        seen += len(taken)
        if seen >= RECORDS and not OUT.exists():
            figures = {
                "records": seen - first,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu,
            }
            partial = OUT.with_suffix(".partial")
            partial.write_text(json.dumps(figures))
            partial.rename(OUT)
