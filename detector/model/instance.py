"""The per-instance model: anomaly scores per point and an idle verdict with its reason.

River's contract: ``score_one(x)`` before ``learn_one(x)``, ``learn_one`` returns ``None``,
``clone()`` gives a fresh model with the same parameters. The model has no randomness, so the
same points always give the same verdicts. Its whole state packs into ``to_bytes()`` (about
731 bytes) and ``from_bytes`` restores it exactly.

**Idle** means: at its own rest level (:mod:`detector.model.level`), without the activity its
history shows, for longer than that history explains. Two runs are followed
(:mod:`detector.model.quiet`):

* the **rest run**: points at the instance's learnt rest level and under the tenant's ceilings;
  bursts of up to an hour that move little data (an update scan, a GC storm, a cron tick) do
  not end it. It is idle after ``rest_gap_factor`` (1.5) times the longest rest run of the last
  14 days plus ``rest_gap_margin`` (1 hour), and at least ``rest_floor`` (3 hours): rests at
  agents' levels are fuzzier than clean ones, so their history explains more;
* the **clean run**: points at a clean floor (CPU ≤ 2 %, network ≤ 200 B/s: no working server
  sits there); one-point spikes do not end it. It is idle after ``gap_factor`` times the longest
  clean run of the last 14 days plus ``gap_margin``, and at least ``idle_floor`` (45 minutes).

**Enough history.** A long run is evidence of idleness only against a history that could have
shown the instance's pattern: a nightly job seen for one day, or a weekly job seen for six, looks
idle. An idle verdict therefore needs a week: either a week of history before the run began (so
any job that runs at least weekly has shown itself and its gaps explain the run), or a run that
itself lasted a week (no weekly job is that quiet). Until then the verdict is *provisional*:
shown, never alerted or acted on. A just-launched instance that never works is provisional for
its first 7 days, then idle.

**Usage anomalies.** Each metric also follows its incident (:mod:`detector.model.incidents`): a
rise to a level, or for a time, its history does not show. After each point ``transitions``
lists the incidents it opened or closed; none opens before a week of history or before
``alerts_from`` (the live edge, set by the worker). ``expect(metric)`` is a person's word that
the last incident's level is normal.

>>> from datetime import datetime, timedelta, timezone
>>> start = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> model = InstanceModel()
>>> def feed(hours, cpu, net):
...     global start
...     for _ in range(12 * hours):
...         model.learn_one(Point(start, cpu, net / 2, net / 2))
...         start += timedelta(minutes=5)
>>> feed(8 * 24, 38.0, 6e7)                  # eight busy days, then its agents only
>>> feed(2, 2.5, 3e5)
>>> model.status()                           # at rest for 2 hours: not yet
'active'
>>> feed(2, 2.5, 3e5)
>>> v = model.verdict()
>>> v.status, v.idle_since == start - timedelta(hours=4), v.confidence > 0.5
('idle', True, True)
>>> print(v.reason)
CPU 2.5% and 1 KB/s, its usual rest level, for 3.9 hours; it never rested in 8.2 days of history; its busy hours averaged 38% CPU and 200 KB/s
>>> model.mark_not_idle()
>>> model.status()
'active'
>>> InstanceModel.from_bytes(model.to_bytes()).verdict() == model.verdict()
True
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from river import base

from detector.model.incidents import STATE as INCIDENT_STATE
from detector.model.incidents import IncidentRule, Transition
from detector.model.level import STATE_FIELDS as LEVEL_FIELDS
from detector.model.level import RestLevel
from detector.model.points import Ceilings, Point, Verdict
from detector.model.quiet import DAYS, QuietHistory, QuietRule
from detector.model.series import STATE_FIELDS, SeriesDetector
from detector.model.wording import duration, rate

FEATURES = ("cpu_percent", "network_in_bytes", "network_out_bytes")
WEEK = 7 * 86_400
"""History an idle verdict needs: before the run, or as the run itself."""
REST_BURST = 12
"""Points (an hour) of low-data activity a rest run survives (a maintenance job and an update
scan back to back)."""
_FORMAT_VERSION = 4
_TRACK = struct.Struct(f"<6I{DAYS}H")
_HEAD = struct.Struct("<B3Id")
_LEVEL = struct.Struct(f"<{LEVEL_FIELDS}d")
_SERIES = struct.Struct(f"<{STATE_FIELDS}d")


class InstanceModel(base.Base):
    """Anomaly scores and idle verdicts for one EC2 instance.

    Parameters
    ----------
    rule
        The clean floor (a point under it is clean whatever the instance's rest level).
    idle_floor
        Seconds a clean run must last before any idle verdict.
    gap_factor, gap_margin
        A run is explained by history up to ``gap_factor * longest + gap_margin`` seconds.
    detector
        Template of the per-metric anomaly detector (cloned for each metric).
    ceilings
        Absolute ceilings of rest (a tenant's Settings; Trusted Advisor's 10 % CPU by default).
    rest_floor
        Seconds a rest run (at the learnt rest level, above the clean floor) must last.
    rest_gap_factor, rest_gap_margin
        A rest run is explained by history up to ``rest_gap_factor * longest + rest_gap_margin``.
    incidents
        When a metric's novelty opens a usage anomaly incident (:mod:`detector.model.incidents`).

    ``alerts_from`` (epoch seconds, a setting like the ceilings, not state) is the first period
    that may open an incident: the worker sets it to the live edge, so a backfill is learnt but
    raises nothing. After each point, ``transitions`` holds the incidents it opened or closed.
    """

    def __init__(
        self,
        rule: QuietRule | None = None,
        idle_floor: int = 2_700,
        gap_factor: float = 1.2,
        gap_margin: int = 1_800,
        detector: SeriesDetector | None = None,
        ceilings: Ceilings | None = None,
        rest_floor: int = 10_800,
        rest_gap_factor: float = 1.5,
        rest_gap_margin: int = 3_600,
        incidents: IncidentRule | None = None,
    ) -> None:
        self.rule = rule
        self.idle_floor = idle_floor
        self.gap_factor = gap_factor
        self.gap_margin = gap_margin
        self.detector = detector
        self.ceilings = ceilings
        self.rest_floor = rest_floor
        self.rest_gap_factor = rest_gap_factor
        self.rest_gap_margin = rest_gap_margin
        self.incidents = incidents
        self._incident_rule = incidents or IncidentRule()
        self._incidents = [self._incident_rule.incident(name) for name in FEATURES]
        self.alerts_from = 0
        self.transitions: list[Transition] = []
        template = detector or SeriesDetector()
        self._detectors = [template.for_feature(name) for name in FEATURES]
        self._clean = QuietHistory()
        self._rest = QuietHistory(max_burst=REST_BURST)
        self._level = RestLevel(ceilings)
        self._rule = self._clean_rule(rule, ceilings)
        self._score = 0.0

    @staticmethod
    def _clean_rule(rule: QuietRule | None, ceilings: Ceilings | None) -> QuietRule:
        """The clean floor, never above the tenant's ceilings."""
        base_rule = rule or QuietRule()
        if ceilings is None:
            return base_rule
        return QuietRule(
            min(base_rule.cpu_floor, ceilings.cpu_percent),
            min(base_rule.network_floor, ceilings.network_bps),
            base_rule.period,
        )

    def set_ceilings(self, ceilings: Ceilings | None) -> None:
        """Use a tenant's absolute ceilings of rest from now on (a parameter, not state)."""
        self.ceilings = ceilings
        self._level.ceilings = ceilings or Ceilings()
        self._rule = self._clean_rule(self.rule, ceilings)

    def score_one(self, x: Point) -> float:
        """Anomaly score of ``x`` in [0, 1]: the highest of its metrics' scores (novelty)."""
        features = x.features()
        return max(d.score_one(features) for d in self._detectors)

    def learn_one(self, x: Point) -> None:
        """Learn ``x``. Points come in time order; one at or before the last learnt point (a
        redelivered or late record) is ignored, so replaying a stream changes nothing."""
        when = int(x.timestamp.timestamp())
        if self._rest.first_seen and when <= self._rest.last_seen:
            return
        features = x.features()
        scores = [d.score_one(features) for d in self._detectors]
        expected = [d.expected() for d in self._detectors]
        self._score = max(scores)
        for detector in self._detectors:
            detector.learn_one(features)
        cpu, net_in, net_out = x.cpu_percent, x.network_in_bytes, x.network_out_bytes
        net = None if net_in is None and net_out is None else (net_in or 0.0) + (net_out or 0.0)
        bps = None if net is None else net / self._rule.period
        level = self._level
        rest = level.is_rest(cpu, bps)
        self._rest.observe(when, rest, level.within_ceilings(bps))
        self._clean.observe(when, self._rule.is_quiet(cpu, net_in, net_out))
        level.learn(cpu, bps, rest)
        watched = when - self._rest.first_seen >= self._incident_rule.history_s
        may_open = watched and when >= self.alerts_from
        self.transitions = []
        for incident, score, (low, high) in zip(self._incidents, scores, expected, strict=True):
            moved = incident.observe(when, features[incident.metric], score, low, high, may_open)
            if moved is not None:
                self.transitions.append(moved)

    def expect(self, metric: str) -> Transition | None:
        """Feedback: a person called the level of ``metric``'s last incident expected. Its
        detector learns that level as normal (the same surge again opens nothing) and an open
        incident closes now; returns that closing transition."""
        n = FEATURES.index(metric)
        incident = self._incidents[n]
        if incident.peak > 0:
            self._detectors[n].accept_level(incident.peak)
        return incident.accept(self._rest.last_seen)

    def mark_not_idle(self) -> None:
        """Feedback: a person said the instance is not idle; this quiet pattern stops alerting."""
        self._rest.accept_current_run()
        self._clean.accept_current_run()

    def _threshold(self, history: QuietHistory) -> int:
        """How long the current run of ``history`` must last to be called idle."""
        explained = max(history.longest_recent(), 60 * history.accepted)
        if history is self._clean:
            return max(self.idle_floor, round(self.gap_factor * explained) + self.gap_margin)
        return max(self.rest_floor, round(self.rest_gap_factor * explained) + self.rest_gap_margin)

    def _unexplained(self) -> QuietHistory | None:
        """The run that lasted longer than its history explains (clean first), or None."""
        for history in (self._clean, self._rest):
            if history.current_run_accepted() or not history.run_start:
                continue
            if history.run_seconds(history.last_seen) >= self._threshold(history):
                return history
        return None

    @staticmethod
    def _enough_history(history: QuietHistory) -> bool:
        """A week of history before the run, or a run that lasted a week."""
        before = history.run_start - history.first_seen
        return before >= WEEK or history.run_seconds(history.last_seen) >= WEEK

    def status(self) -> str:
        """``idle``, ``provisional`` or ``active``, as ``verdict().status`` (cheap)."""
        run = self._unexplained()
        if run is None:
            return "active"
        return "idle" if self._enough_history(run) else "provisional"

    def is_idle(self) -> bool:
        """Whether ``verdict()`` would say idle (alertable)."""
        return self.status() == "idle"

    def verdict(self) -> Verdict:
        """The verdict after the last learnt point."""
        level = self._level
        limits = (level.cpu_limit(), level.net_limit()) if level.seen else (None, None)
        run = self._unexplained()
        rest = self._rest
        if run is None:
            since_at = rest.run_start or self._clean.run_start
            since = datetime.fromtimestamp(since_at, tz=UTC) if since_at else None
            confidence, reason = self._active_words()
            return Verdict(self._score, False, since, confidence, reason, False, *limits)
        since = datetime.fromtimestamp(run.run_start, tz=UTC)
        enough = self._enough_history(run)
        seconds = run.run_seconds(run.last_seen)
        threshold = self._threshold(run)
        history_share = min(1.0, run.history_seconds() / (2 * WEEK))
        if enough:
            excess = min(1.0, (seconds - threshold) / threshold)
            confidence = round(0.5 + 0.3 * history_share + 0.19 * excess, 3)
            reason = self._idle_words(run)
        else:
            confidence = round(0.2 + 0.25 * history_share, 3)
            reason = (
                f"{self._idle_words(run)}; provisional: an idle verdict needs a week of history "
                "before the rest or a rest that lasts a week, as a weekly or nightly job seen "
                "too briefly looks the same"
            )
        return Verdict(self._score, enough, since, confidence, reason, not enough, *limits)

    def _active_words(self) -> tuple[float, str]:
        """Confidence that the instance is not idle, and why."""
        rest = self._rest
        if rest.current_run_accepted():
            return 0.9, f"{self._rest_words(rest)}; marked as not idle by a person"
        if not rest.run_start:
            return 1.0, "active: CPU or network above its rest level"
        seconds = rest.run_seconds(rest.last_seen)
        threshold = self._threshold(rest)
        confidence = round(1.0 - 0.5 * min(1.0, seconds / threshold), 3)
        return confidence, f"{self._rest_words(rest)}; idle only after {duration(threshold)}"

    def _rest_words(self, run: QuietHistory) -> str:
        level = self._level
        cpu, net = level.rest_cpu or level.short_cpu, level.rest_net or level.short_net
        where = "a clean floor" if run is self._clean else "its usual rest level"
        return f"CPU {cpu:.1f}% and {rate(round(net, -2 if net >= 1e3 else 0))}, {where}, " + (
            f"for {duration(run.run_seconds(run.last_seen))}"
        )

    def _idle_words(self, run: QuietHistory) -> str:
        words = self._rest_words(run)
        span = run.history_seconds()
        window = duration(span) if span < 2 * WEEK else f"{DAYS} days"
        if not run.active_points:
            return f"{words}; never active in {duration(span)} of history"
        level = self._level
        busy = (
            f"; its busy hours averaged {level.busy_cpu:.0f}% CPU and "
            f"{rate(float(f'{level.busy_net:.2g}'))}"
            if level.busy_cpu or level.busy_net
            else ""
        )
        longest = max(run.longest_recent(), 60 * run.accepted)
        if not longest:
            return f"{words}; it never rested in {window} of history{busy}"
        return f"{words}; in {window} of history its rests never passed {duration(longest)}{busy}"

    def to_bytes(self) -> bytes:
        """The learnt state, compact (parameters are not included)."""
        head = _HEAD.pack(
            _FORMAT_VERSION,
            self._rest.first_seen,
            self._rest.last_seen,
            self._rest.day,
            self._score,
        )
        tracks = b"".join(_pack_track(h) for h in (self._clean, self._rest))
        series = b"".join(_SERIES.pack(*d.state()) for d in self._detectors)
        incidents = b"".join(i.pack() for i in self._incidents)
        return head + tracks + _LEVEL.pack(*self._level.state()) + series + incidents

    @classmethod
    def from_bytes(cls, data: bytes, **params: object) -> InstanceModel:
        """A model with ``params`` (as for the constructor) and the state from ``to_bytes``."""
        model = cls(**params)  # type: ignore[arg-type]
        model._load(data)
        return model

    def restore(self, data: bytes | None) -> InstanceModel:
        """A model with this one's parameters and the state ``data`` (fresh when ``None``)."""
        model = InstanceModel(
            self.rule,
            self.idle_floor,
            self.gap_factor,
            self.gap_margin,
            self.detector,
            self.ceilings,
            self.rest_floor,
            self.rest_gap_factor,
            self.rest_gap_margin,
            self.incidents,
        )
        if data is not None:
            model._load(data)
        return model

    def _load(self, data: bytes) -> None:
        size = (
            _HEAD.size
            + 2 * _TRACK.size
            + _LEVEL.size
            + len(FEATURES) * (_SERIES.size + INCIDENT_STATE.size)
        )
        if len(data) != size or data[0] != _FORMAT_VERSION:
            raise ValueError("not an InstanceModel state of this version")
        _, first_seen, last_seen, day, self._score = _HEAD.unpack_from(data)
        offset = _HEAD.size
        for history in (self._clean, self._rest):
            _unpack_track(history, data, offset)
            history.first_seen, history.last_seen, history.day = first_seen, last_seen, day
            offset += _TRACK.size
        self._level.load_state(_LEVEL.unpack_from(data, offset))
        offset += _LEVEL.size
        for n, detector in enumerate(self._detectors):
            detector.load_state(_SERIES.unpack_from(data, offset + n * _SERIES.size))
        offset += len(FEATURES) * _SERIES.size
        for n, incident in enumerate(self._incidents):
            at = offset + n * INCIDENT_STATE.size
            incident.load(data[at : at + INCIDENT_STATE.size])


def _pack_track(h: QuietHistory) -> bytes:
    return _TRACK.pack(
        h.run_start, h.pending, h.burst, h.active_points, h.accepted, h.accepted_run, *h.day_max
    )


def _unpack_track(h: QuietHistory, data: bytes, offset: int) -> None:
    fields = _TRACK.unpack_from(data, offset)
    h.run_start, h.pending, h.burst, h.active_points, h.accepted, h.accepted_run = fields[:6]
    h.day_max = list(fields[6:])
