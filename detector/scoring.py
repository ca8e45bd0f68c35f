"""The model's contract, as the model service and the detector worker use it.

* :class:`Point` (one 5-minute metrics point) goes in; :class:`Verdict` (anomaly score, idle
  verdict, since when, confidence, reason) comes out.
* :class:`InstanceModel` follows River's contract: ``score_one(x)`` before ``learn_one(x)``,
  ``learn_one`` returns ``None``, ``clone()``, deterministic (same points, same scores), and
  serialisable with ``to_bytes()`` / ``InstanceModel.from_bytes(b)`` (about 731 bytes).
  ``verdict()`` is read after the last ``learn_one``; ``mark_not_idle()`` is a person's feedback.
* :func:`score_and_learn` is the batch form a service calls: the per-instance state travels
  with the stream (``None`` for a new instance) and comes back updated.

The model keeps no fleet-wide learnt parameters: its parameters are constructor arguments,
and everything it learns is per instance, inside the state bytes.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> points = [Point(t0 + timedelta(minutes=5 * i), 0.3, 500.0, 500.0) for i in range(12)]
>>> verdicts, state = score_and_learn(None, points)
>>> verdicts[-1].status, verdicts[-1].idle_since == t0, len(state) <= 2048
('provisional', True, True)
>>> print(verdicts[-1].reason)  # doctest: +NORMALIZE_WHITESPACE
CPU 0.3% and 3 B/s, a clean floor, for 55 minutes; never active in 55 minutes of history;
provisional: an idle verdict needs a week of history before the rest or a rest that lasts a
week, as a weekly or nightly job seen too briefly looks the same
"""

from __future__ import annotations

from collections.abc import Sequence

from detector.model.instance import InstanceModel
from detector.model.points import Ceilings, Point, Verdict

__all__ = ["Ceilings", "InstanceModel", "Point", "Verdict", "score_and_learn"]


def score_and_learn(
    state: bytes | None, points: Sequence[Point], model: InstanceModel | None = None
) -> tuple[list[Verdict], bytes]:
    """Score then learn each point (time order) from ``state``; one verdict per point.

    ``model`` is a template carrying the parameters (default ones if ``None``); its own state
    is not used.
    """
    current = (model or InstanceModel()).restore(state)
    verdicts = []
    for point in points:
        current.learn_one(point)
        verdicts.append(current.verdict())
    return verdicts, current.to_bytes()
