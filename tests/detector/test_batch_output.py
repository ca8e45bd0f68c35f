"""A batch's states reach the changelog only after the broker has its detections.

A restarted worker skips every record at or before the last period its logged state
names, so a state logged ahead of its detections would lose those periods for good when
the worker is killed in between (the short chaos run once showed 152 such periods).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from detector.agents import publish
from detector.detect import BatchOutcome
from detector.output import KafkaOutput
from spendsense.events import AnomalyRecord, DeadLetter, DetectionRecord
from spendsense.settings import KafkaSettings


class GatedOutput:
    """Records what is sent; the broker acknowledges only when ``broker_acks`` is set."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.broker_acks = asyncio.Event()

    async def detections(self, records: Sequence[DetectionRecord]) -> None:
        self.calls.append("detections")

    async def anomalies(self, records: Sequence[AnomalyRecord]) -> None:
        self.calls.append("anomalies")

    async def dead_letters(self, records: Sequence[DeadLetter]) -> None:
        self.calls.append("dead_letters")

    async def deliver(self) -> None:
        await self.broker_acks.wait()
        self.calls.append("delivered")

    async def log_states(self, changes: Mapping[str, str]) -> None:
        self.calls.append("states")


def test_states_are_logged_only_once_the_broker_has_the_detections() -> None:
    async def scenario() -> list[str]:
        output = GatedOutput()
        sending = asyncio.create_task(
            publish(output, BatchOutcome(states={"i-0abc": "{}"}))  # type: ignore[arg-type]
        )
        await asyncio.sleep(0.05)
        assert output.calls == [
            "detections",
            "anomalies",
            "dead_letters",
        ]  # no state while unacknowledged
        output.broker_acks.set()
        await sending
        return output.calls

    assert asyncio.run(scenario()) == [
        "detections",
        "anomalies",
        "dead_letters",
        "delivered",
        "states",
    ]


def test_overlapping_deliveries_each_wait_for_everything_sent_before_them() -> None:
    async def scenario() -> None:
        output = KafkaOutput(KafkaSettings(), "detections", "deadletter", states=None)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        first: asyncio.Future[object] = loop.create_future()
        second: asyncio.Future[object] = loop.create_future()
        output._pending.append(first)
        early = asyncio.create_task(output.deliver())  # the acknowledger: waits for `first`
        await asyncio.sleep(0)
        output._pending.append(second)
        late = asyncio.create_task(output.deliver())  # the next send: waits for both
        second.set_result(None)
        await asyncio.sleep(0.05)
        assert not late.done(), "returned while a record sent before it was unacknowledged"
        first.set_result(None)
        await asyncio.gather(early, late)
        assert output._pending == []

    asyncio.run(scenario())
