"""Fold a batch of detections to the ones that can change what the actions worker does.

A just-connected account's backfill brings thousands of detections per instance, nearly all
of them the same verdict as the one before. The alert state (:mod:`actions.alerts`) and the
auto-stop policy only react to where an instance's verdict changes between alertable idle and
not, and to the latest word on it: within a batch, per instance, the first and the last
detection of each run of equal ``idle`` are kept (in order) and the ones between them are
dropped, so a busy start, an idle start and the latest verdict are all still seen. Each kept
detection carries the events it stands for, so a dead letter still names every record.

>>> from types import SimpleNamespace as D
>>> batch = [(n, D(instance_id="i-1", idle=n >= 5)) for n in range(8)]
>>> batch.insert(3, (99, D(instance_id="i-2", idle=False)))
>>> [(det.instance_id, events) for det, events in coalesce(batch)]
[('i-1', [0]), ('i-1', [1, 2, 3, 4]), ('i-2', [99]), ('i-1', [5]), ('i-1', [6, 7])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

E = TypeVar("E")


class Verdict(Protocol):
    """What coalescing reads of a detection."""

    @property
    def instance_id(self) -> str: ...
    @property
    def idle(self) -> bool: ...


D = TypeVar("D", bound=Verdict)


def coalesce(batch: Sequence[tuple[E, D]]) -> list[tuple[D, list[E]]]:
    """The detections to act on, in batch order, each with the events it stands for."""
    runs: dict[str, list[_Kept[E, D]]] = {}
    kept: list[_Kept[E, D]] = []
    for event, det in batch:
        mine = runs.setdefault(det.instance_id, [])
        if len(mine) >= 2 and mine[-1].det.idle == det.idle == mine[-2].det.idle:
            mine[-1].det = det  # the run's latest word replaces the one before it
            mine[-1].events.append(event)
            continue
        entry = _Kept(det, [event])
        mine.append(entry)
        kept.append(entry)
    return [(entry.det, entry.events) for entry in kept]


@dataclass
class _Kept(Generic[E, D]):
    """A detection kept, and the events it stands for."""

    det: D
    events: list[E]
