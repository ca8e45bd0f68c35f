"""Issue 14, item 3: one contract per topic (record type and key), one dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from spendsense import events
from spendsense.errors import PoisonRecord
from spendsense.events import RAW_KEEP, DeadLetter, Event
from spendsense.topics import ACTIONS, DETECTIONS_SPEC, METRICS_SPEC, TOPICS, TopicSpec, topic_spec

AT = datetime(2026, 11, 27, tzinfo=UTC)
INSTANCE = "i-0abc1234"
# an instance's place: what inventory, metrics and detections all carry
PLACE = {"tenant_id": "t1", "account_id": "111111111111", "region": "us-east-1"}
WHERE = {**PLACE, "instance_id": INSTANCE}
BY = {"tenant_id": "t1", "actor": "a", "at": AT}


def test_every_topic_names_its_record_and_a_field_of_it_as_key() -> None:
    for spec in TOPICS:
        assert issubclass(spec.record, Event), spec.name
        assert spec.key in spec.record.model_fields, spec.name
        assert topic_spec(spec.name) is spec


@pytest.mark.parametrize(
    ("name", "record", "key"),
    [
        (
            "inventory",
            events.InventoryRecord(
                **WHERE, state="running", instance_type="t3.micro", launch_time=AT, observed_at=AT
            ),
            INSTANCE,
        ),
        (
            "metrics",
            *events.MetricPollRecord.pack([events.MetricRecord(**WHERE, timestamp=AT)]),
            INSTANCE,
        ),
        (
            "detections",
            events.DetectionRecord(**WHERE, timestamp=AT, score=0.5, idle=False),
            INSTANCE,
        ),
        (ACTIONS, events.ActionRecord(**BY, action="stop", result="stopped"), "t1"),
        ("feedback", events.FeedbackRecord(**BY, instance_id=INSTANCE), INSTANCE),
        ("tenant-settings", events.TenantSettingsRecord(**BY), "t1"),
        ("deadletter", DeadLetter.of("t-metrics", b"{", "json: x", at=AT), "t-metrics"),
    ],
)
def test_a_record_is_keyed_serialised_and_parsed_by_its_spec(
    name: str, record: Event, key: str
) -> None:
    spec: TopicSpec[Any] = topic_spec(name)
    wire_key, value = spec.encode(record)
    assert wire_key == key.encode()
    assert spec.parse(value) == record


def test_a_spec_refuses_another_topics_record_and_parses_poison_as_poison() -> None:
    letter = DeadLetter.of("metrics", b"x", "json: x")
    with pytest.raises(TypeError, match="detections carries DetectionRecord"):
        DETECTIONS_SPEC.encode(letter)
    with pytest.raises(PoisonRecord, match=r"^json:"):
        METRICS_SPEC.parse(b"{not json")


def test_a_dead_letter_keeps_the_first_characters_of_any_record() -> None:
    long = DeadLetter.of("metrics", b"a" * (RAW_KEEP + 5), "json: x", partition=2, offset=9, at=AT)
    assert long.raw == "a" * RAW_KEEP
    assert (long.source_topic, long.partition, long.offset, long.at) == ("metrics", 2, 9, AT)
    # the limit counts characters, after decoding (undecodable bytes replaced)
    text = DeadLetter.of("metrics", ("é" * RAW_KEEP + "!").encode(), "json: x")
    assert text.raw == "é" * RAW_KEEP
    assert DeadLetter.of("metrics", b"\xff{", "x").raw == "\ufffd{"
    assert DeadLetter.of("metrics", None, "empty: no value").raw == ""
    assert DeadLetter.of("metrics", "{as text", "x").raw == "{as text"
    assert DeadLetter.of("metrics", b"", "x").at.tzinfo is not None
