"""The kafka-python producer every SpendSense publisher uses, and a publisher that can prove delivery.

The producer waits for all in-sync replicas (``acks=all``), is idempotent (kafka-python
3 assigns a producer id and sequence numbers, so its own retries never duplicate a
record within one producer's life), compresses batches with gzip (readable by every
client in the project without extra codecs) and lingers a few milliseconds to batch.

:class:`Publisher` keeps the future of every record sent since its last
:meth:`Publisher.flush`, which waits for them all and raises if any failed: a caller
commits its own progress only after a flush that returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from spendsense.errors import ServiceError
from spendsense.events import Event
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import KafkaSettings
from spendsense.topics import topic_name, topic_spec

LINGER_MS = 20
BATCH_BYTES = 256 * 1024


def make_producer(settings: KafkaSettings, client_id: str = "spendsense", **overrides: Any) -> Any:
    """A connected :class:`kafka.KafkaProducer` with SpendSense's delivery settings."""
    delivery: dict[str, Any] = {
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": "gzip",
        "linger_ms": LINGER_MS,
        "batch_size": BATCH_BYTES,
        "max_in_flight_requests_per_connection": 5,
        "delivery_timeout_ms": 120_000,
        "request_timeout_ms": 30_000,
    }
    config = kafka_python_config(settings, **(delivery | overrides))
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise ServiceError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc.__class__.__name__}): "
            "start it with `spendsense kafka start` or fix SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS"
        ) from None


class DeliveryFailed(ServiceError):
    """Some records sent since the last flush were not acknowledged by the broker."""


class Publisher:
    """Sends records to the project's topics (by short name) and confirms them on flush."""

    def __init__(
        self,
        producer: Any,
        kafka: KafkaSettings,
        on_confirmed: Callable[[str, int], None] | None = None,
    ) -> None:
        self.producer = producer
        self.kafka = kafka
        self.on_confirmed = on_confirmed
        self._pending: list[tuple[str, Any]] = []

    def send(self, topic: str, record: Event) -> None:
        """Queue one record on the topic named ``topic`` (short name), keyed and serialised
        as its :class:`~spendsense.topics.TopicSpec` says."""
        key, value = topic_spec(topic).encode(record)
        future = self.producer.send(topic_name(self.kafka, topic), key=key, value=value)
        self._pending.append((topic, future))

    def flush(self, timeout_s: float = 120.0) -> int:
        """Wait for every record sent since the last flush; returns how many were confirmed
        (nothing sent: nothing to wait for)."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        try:
            self.producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise DeliveryFailed(f"kafka flush failed: {exc}") from None
        failed = [f.exception for _, f in pending if not f.succeeded()]
        if failed:
            raise DeliveryFailed(f"{len(failed)} of {len(pending)} records failed: {failed[0]}")
        if self.on_confirmed is not None:
            for topic, count in Counter(topic for topic, _ in pending).items():
                self.on_confirmed(topic, count)
        return len(pending)

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush what is queued and close the producer."""
        self.producer.close(timeout=timeout_s)
