"""Scoring one item in the model service, with a bounded cache of live models.

Rebuilding a model from its state bytes costs several times more than scoring a point, and
in the stream each instance brings one point per batch. :class:`WarmModels` keeps the models
it scored most recently, each with the exact state bytes it returned: when an item arrives
with those bytes, the live model *is* that state and is used as is; any other state (a
replica's answer, an older state after a rebalance, a cold start) is rebuilt from its bytes.
It is a cache, not a store: the state still travels with the stream and any worker or replica
can serve any item. The tenant's ceilings of rest are a parameter, not state: each item's
(the template's when it brings none) are set on the model before it scores.

>>> from datetime import datetime, timedelta, timezone
>>> from detector.protocol import PointIn, SeriesItem
>>> t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> pts = [PointIn(timestamp=t0 + timedelta(minutes=5 * i), cpu_percent=0.3,
...                network_in_bytes=500.0, network_out_bytes=500.0) for i in range(12)]
>>> warm, cold = WarmModels(size=10), WarmModels(size=0)
>>> a, new = warm.score(SeriesItem(key="i-1", points=pts[:6]))
>>> b, _ = warm.score(SeriesItem(key="i-1", state=a.state, points=pts[6:]))
>>> c, _ = cold.score(SeriesItem(key="i-1", state=a.state, points=pts[6:]))
>>> new, b == c, warm.hits, cold.hits
(True, True, 1, 0)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime

from detector import scoring
from detector.model.incidents import Transition
from detector.protocol import (
    IncidentOut,
    PointIn,
    SeriesItem,
    SeriesResult,
    VerdictOut,
    decode_state,
    encode_state,
)


def _point(p: PointIn) -> scoring.Point:
    return scoring.Point(
        timestamp=p.timestamp,
        cpu_percent=p.cpu_percent,
        network_in_bytes=p.network_in_bytes,
        network_out_bytes=p.network_out_bytes,
    )


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _incident(t: Transition) -> IncidentOut:
    return IncidentOut(
        metric=t.metric,
        status=t.status,
        since=_at(t.since),
        ended_at=None if t.ended_at is None else _at(t.ended_at),
        observed=t.observed,
        expected_low=t.expected_low,
        expected_high=t.expected_high,
        score=min(max(t.score, 0.0), 1.0),
    )


def _verdict(v: scoring.Verdict, transitions: list[Transition]) -> VerdictOut:
    return VerdictOut(
        score=v.score,
        idle=v.idle,
        idle_since=v.idle_since,
        confidence=v.confidence,
        reason=v.reason,
        provisional=v.provisional,
        rest_cpu_percent=v.rest_cpu_percent,
        rest_network_bps=v.rest_network_bps,
        incidents=[_incident(t) for t in transitions],
    )


class WarmModels:
    """Scores items; keeps up to ``size`` live models keyed by item key (LRU)."""

    def __init__(self, size: int, template: scoring.InstanceModel | None = None) -> None:
        self.size = size
        self.template = template or scoring.InstanceModel()
        self._params = self.template._get_params()
        self._live: OrderedDict[str, tuple[bytes, scoring.InstanceModel]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def _take(self, key: str, state: bytes | None) -> scoring.InstanceModel:
        with self._lock:
            entry = self._live.pop(key, None)
        if state is None:
            return self.template.clone()
        if entry is not None and entry[0] == state:
            self.hits += 1
            return entry[1]
        return scoring.InstanceModel.from_bytes(state, **self._params)

    def _keep(self, key: str, state: bytes, model: scoring.InstanceModel) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._live[key] = (state, model)
            while len(self._live) > self.size:
                self._live.popitem(last=False)

    def _ceilings(self, item: SeriesItem) -> scoring.Ceilings:
        """The item's ceilings of rest; the template's (else the defaults) when it has none."""
        if item.ceilings is None:
            return self.template.ceilings or scoring.Ceilings()
        return scoring.Ceilings(
            cpu_percent=item.ceilings.cpu_percent, network_bps=item.ceilings.network_bps
        )

    def score(self, item: SeriesItem) -> tuple[SeriesResult, bool]:
        """Apply the item's ceilings of rest and live edge (every time: a cached live model keeps
        the ones it last scored with) and feedback, then score and learn each point; also says
        whether it was new.

        Raises ValueError when the item's state is not a model's bytes.
        """
        state = decode_state(item.state)
        model = self._take(item.key, state)
        model.set_ceilings(self._ceilings(item))
        model.alerts_from = 0 if item.alerts_from is None else int(item.alerts_from.timestamp())
        if item.not_idle:
            model.mark_not_idle()
        accepted = [t for t in map(model.expect, item.expected) if t is not None]
        verdicts = []
        for point in item.points:
            model.learn_one(_point(point))  # the model scores each point before learning it
            verdicts.append(_verdict(model.verdict(), accepted + model.transitions))
            accepted = []
        new_state = model.to_bytes()
        self._keep(item.key, new_state, model)
        result = SeriesResult(key=item.key, state=encode_state(new_state), verdicts=verdicts)
        return result, state is None
