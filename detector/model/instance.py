"""The per-instance model: anomaly scores per point and an idle verdict with its reason.

River's contract: ``score_one(x)`` before ``learn_one(x)``, ``learn_one`` returns ``None``,
``clone()`` gives a fresh model with the same parameters. The model has no randomness, so the
same points always give the same scores. Its whole state packs into ``to_bytes()`` (about 400
bytes) and ``from_bytes`` restores it exactly.

An instance is judged idle when its current quiet run (see :mod:`detector.model.quiet`) is
longer than both an absolute floor and what its last 14 days explain: ``gap_factor`` times the
longest quiet run that ended in that time, plus ``gap_margin``. A quiet run that a person marked
as normal (``mark_not_idle``) never alerts, and later runs as long as it are explained too.

>>> from datetime import datetime, timedelta, timezone
>>> start = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> model = InstanceModel()
>>> for i in range(18):                      # an hour busy, then quiet
...     cpu = 40.0 if i < 12 else 0.5
...     p = Point(start + timedelta(minutes=5 * i), cpu, 1e3, 1e3)
...     _ = model.score_one(p)
...     model.learn_one(p)
>>> model.verdict().idle                     # quiet for 25 minutes: not yet
False
>>> for i in range(18, 36):
...     p = Point(start + timedelta(minutes=5 * i), 0.5, 1e3, 1e3)
...     model.learn_one(p)
>>> v = model.verdict()
>>> v.idle, v.idle_since == start + timedelta(hours=1)
(True, True)
>>> print(v.reason)
CPU under 2% and network under 200 B/s for 115 minutes; no quiet gap in 2.9 hours of history
>>> model.mark_not_idle()
>>> model.verdict().idle
False
>>> InstanceModel.from_bytes(model.to_bytes()).verdict() == model.verdict()
True
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from river import base

from detector.model.points import Ceilings, Point, Verdict
from detector.model.quiet import DAYS, QuietHistory, QuietRule
from detector.model.series import STATE_FIELDS, SeriesDetector
from detector.model.wording import duration, rate

METRICS = ("cpu_percent", "network_in_bytes", "network_out_bytes")
_FORMAT_VERSION = 2
_HEADER = struct.Struct(f"<B8I{DAYS}Hd")
_SERIES = struct.Struct(f"<{STATE_FIELDS}d")


class InstanceModel(base.Base):
    """Anomaly scores and idle verdicts for one EC2 instance.

    Parameters
    ----------
    rule
        When a point is quiet.
    idle_floor
        Seconds a quiet run must last before any idle verdict (instances idle since launch).
    gap_factor, gap_margin
        A quiet run is explained by history up to ``gap_factor * longest + gap_margin`` seconds.
    detector
        Template of the per-metric anomaly detector (cloned for each metric).
    """

    def __init__(
        self,
        rule: QuietRule | None = None,
        idle_floor: int = 2_700,
        gap_factor: float = 1.2,
        gap_margin: int = 1_800,
        detector: SeriesDetector | None = None,
        ceilings: Ceilings | None = None,
    ) -> None:
        self.ceilings = ceilings
        self.rule = rule
        self.idle_floor = idle_floor
        self.gap_factor = gap_factor
        self.gap_margin = gap_margin
        self.detector = detector
        template = detector or SeriesDetector()
        self._detectors = [template.for_feature(name) for name in METRICS]
        self._quiet = QuietHistory()
        self._score = 0.0

    @property
    def _rule(self) -> QuietRule:
        return self.rule or QuietRule()

    def score_one(self, x: Point) -> float:
        """Anomaly score of ``x`` in [0, 1]: the highest of its metrics' scores."""
        features = x.features()
        return max(d.score_one(features) for d in self._detectors)

    def learn_one(self, x: Point) -> None:
        """Learn ``x``. Points come in time order; one at or before the last learnt point (a
        redelivered or late record) is ignored, so replaying a stream changes nothing."""
        when = int(x.timestamp.timestamp())
        if self._quiet.first_seen and when <= self._quiet.last_seen:
            return
        features = x.features()
        self._score = self.score_one(x)
        for detector in self._detectors:
            detector.learn_one(features)
        quiet = self._rule.is_quiet(x.cpu_percent, x.network_in_bytes, x.network_out_bytes)
        self._quiet.observe(when, quiet)

    def mark_not_idle(self) -> None:
        """Feedback: a person said the instance is not idle; this quiet pattern stops alerting."""
        self._quiet.accept_current_run()

    def threshold_seconds(self) -> int:
        """How long a quiet run must last now to be called idle."""
        history = self._quiet
        explained = max(history.longest_recent(), 60 * history.accepted)
        return max(self.idle_floor, round(self.gap_factor * explained) + self.gap_margin)

    def is_idle(self) -> bool:
        """Whether ``verdict()`` would say idle (cheap: no reason is worded)."""
        history = self._quiet
        if history.current_run_accepted():
            return False
        return history.run_seconds(history.last_seen) >= self.threshold_seconds()

    def status(self) -> str:
        """``idle``, ``provisional`` or ``active``, as ``verdict().status`` (cheap)."""
        return "idle" if self.is_idle() else "active"

    def set_ceilings(self, ceilings: Ceilings) -> None:
        """Use a tenant's absolute ceilings of rest from now on (a parameter, not state)."""
        self.ceilings = ceilings

    def verdict(self) -> Verdict:
        """The verdict after the last learnt point."""
        history = self._quiet
        run = history.run_seconds(history.last_seen)
        since = datetime.fromtimestamp(history.run_start, tz=UTC) if history.run_start else None
        threshold = self.threshold_seconds()
        quiet_words = (
            f"CPU under {self._rule.cpu_floor:g}% and network under "
            f"{rate(self._rule.network_floor)} for {duration(run)}"
        )
        if history.current_run_accepted():
            return Verdict(
                self._score, False, since, 0.9, f"{quiet_words}; marked as not idle by a person"
            )
        if not self.is_idle():
            confidence = 1.0 - 0.5 * run / threshold
            reason = (
                f"{quiet_words}; idle only after {duration(threshold)}"
                if run
                else "active: CPU or network above the quiet floor"
            )
            return Verdict(self._score, False, since, round(confidence, 3), reason)
        confidence = self._idle_confidence(run, threshold)
        return Verdict(self._score, True, since, confidence, self._why(quiet_words))

    def _idle_confidence(self, run: int, threshold: int) -> float:
        """Grows with history (up to 14 days) and with how far the run passed the threshold."""
        history_share = min(1.0, self._quiet.history_seconds() / (DAYS * 86_400))
        excess = min(1.0, (run - threshold) / threshold)
        return round(0.5 + 0.3 * history_share + 0.19 * excess, 3)

    def _why(self, quiet_words: str) -> str:
        history = self._quiet
        longest = history.longest_recent()
        span = duration(history.history_seconds())
        if not history.active_points:
            return f"{quiet_words}; never active in {span} of history"
        if not longest:
            return f"{quiet_words}; no quiet gap in {span} of history"
        window = span if history.history_seconds() < DAYS * 86_400 else f"{DAYS} days"
        return (
            f"{quiet_words}; the longest quiet gap in {window} of history was {duration(longest)}"
        )

    def to_bytes(self) -> bytes:
        """The learnt state, compact (parameters are not included)."""
        q = self._quiet
        head = _HEADER.pack(
            _FORMAT_VERSION,
            q.first_seen,
            q.last_seen,
            q.run_start,
            q.pending,
            q.active_points,
            q.day,
            q.accepted,
            q.accepted_run,
            *q.day_max,
            self._score,
        )
        return head + b"".join(_SERIES.pack(*d.state()) for d in self._detectors)

    @classmethod
    def from_bytes(cls, data: bytes, **params: object) -> InstanceModel:
        """A model with ``params`` (as for the constructor) and the state from ``to_bytes``."""
        model = cls(**params)  # type: ignore[arg-type]
        model._load(data)
        return model

    def restore(self, data: bytes | None) -> InstanceModel:
        """A model with this one's parameters and the state ``data`` (fresh when ``None``)."""
        model = InstanceModel(
            self.rule, self.idle_floor, self.gap_factor, self.gap_margin, self.detector
        )
        if data is not None:
            model._load(data)
        return model

    def _load(self, data: bytes) -> None:
        if len(data) != _HEADER.size + len(METRICS) * _SERIES.size or data[0] != _FORMAT_VERSION:
            raise ValueError("not an InstanceModel state of this version")
        fields = _HEADER.unpack_from(data)
        q = self._quiet
        (
            _,
            q.first_seen,
            q.last_seen,
            q.run_start,
            q.pending,
            q.active_points,
            q.day,
            q.accepted,
            q.accepted_run,
        ) = fields[:9]
        q.day_max = list(fields[9 : 9 + DAYS])
        self._score = fields[-1]
        for n, detector in enumerate(self._detectors):
            detector.load_state(_SERIES.unpack_from(data, _HEADER.size + n * _SERIES.size))
