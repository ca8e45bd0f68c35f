"""Round trips through the real local broker, with kafka-python and with aiokafka."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource

from devstack import broker
from spendsense import topic_admin
from spendsense.errors import ConfigError
from spendsense.kafka_clients import aiokafka_config, kafka_python_config
from spendsense.settings import KafkaSettings
from spendsense.topics import INVENTORY, METRICS, TOPICS, topic_name

pytestmark = pytest.mark.kafka


def test_kafka_python_round_trip(kafka: KafkaSettings) -> None:
    topic = topic_name(kafka, METRICS)
    producer = KafkaProducer(**kafka_python_config(kafka, acks="all"))
    for i in range(20):
        producer.send(topic, key=f"i-{i:08x}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        **kafka_python_config(
            kafka, auto_offset_reset="earliest", consumer_timeout_ms=10_000, group_id=None
        ),
    )
    values = sorted(m.value.decode() for m in consumer)
    consumer.close()
    assert values == sorted(f"v{i}" for i in range(20))


def test_aiokafka_round_trip(kafka: KafkaSettings) -> None:
    topic = topic_name(kafka, INVENTORY)

    async def go() -> list[bytes]:
        producer = AIOKafkaProducer(**aiokafka_config(kafka, acks="all"))
        await producer.start()
        try:
            for i in range(5):
                await producer.send_and_wait(topic, key=b"k%d" % i, value=b"m%d" % i)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, **aiokafka_config(kafka, auto_offset_reset="earliest"))
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < 5:
                batch = await consumer.getmany(timeout_ms=10_000)
                if not batch:
                    break
                for msgs in batch.values():
                    got.extend(m.value for m in msgs if m.value is not None)
        finally:
            await consumer.stop()
        return got

    assert sorted(asyncio.run(go())) == [b"m%d" % i for i in range(5)]


def test_topics_created_with_layout(kafka: KafkaSettings) -> None:
    admin = KafkaAdminClient(**kafka_python_config(kafka))
    try:
        names = [topic_name(kafka, s.name) for s in TOPICS]
        described = {d["name"]: d for d in admin.describe_topics(names)}
        inventory = topic_name(kafka, INVENTORY)
        configs = admin.describe_configs(config_resources=[ConfigResource("TOPIC", inventory)])
    finally:
        admin.close()
    assert len(described[topic_name(kafka, METRICS)]["partitions"]) == kafka.metrics_partitions
    assert len(described[topic_name(kafka, INVENTORY)]["partitions"]) == kafka.partitions
    assert configs["topic"][inventory]["cleanup.policy"]["value"] == "compact"
    assert topic_admin.create_topics(kafka) == []  # idempotent


def test_port_taken_is_one_clear_error(kafka_broker: KafkaSettings, tmp_path: object) -> None:
    # A second broker on the same ports is refused before anything starts.
    other = kafka_broker.model_copy(update={"home": tmp_path})
    with pytest.raises(ConfigError, match="already taken"):
        broker.start(other)
