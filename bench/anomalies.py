"""The anomaly benchmark: usage anomaly events a user would receive, on a fleet with labelled
anomalies (``spendsense fleet generate --anomalies SHARE``; :mod:`sandbox.fleet.anomalies`).

Onboarding is replayed as :mod:`bench.idle` replays it (the same :class:`~bench.idle.Onboarding`):
the backfill is judged at connection, later points once settled. The model runs as the service
runs it: one :class:`~detector.scoring.InstanceModel` per instance, ``alerts_from`` set to the
first period at the live edge (what the worker sets, :mod:`detector.detect`), each point learnt
in order; the incidents it opens are the events, priced as the worker prices them
(:mod:`detector.usage_prices`).

* **window recall**: labelled windows with an event of that instance whose incident began
  inside the window;
* **false events**: events whose incident began outside every window of the instance, per 100
  instance-weeks of live watching (from the first live period to the trace's end);
* **time to alert**: minutes from the arrival of the window's first point (when its period
  is collected) to the arrival of the point that opened the incident, over detected windows;
* **dollars**: labelled (each window's rate, priced from what it added, times its hours)
  against flagged (each true event's rate times its incident's hours, cut at the window's end).

>>> from sandbox.fleet.generator import FleetSpec, generate_fleet
>>> fleet = generate_fleet(FleetSpec(seed=2, instances=16, days=10, history_days=8,
...                                  anomalies=1.0))
>>> report = run_benchmark(fleet, Onboarding.after(fleet, history_days=8))
>>> report.windows == sum(len(w) for w in fleet.anomalies.values()) > 0
True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import format_table, quantile
from bench.idle import Onboarding, fleet_facts
from detector.model.incidents import Transition
from detector.scoring import InstanceModel, Point
from detector.usage_prices import anomaly_cost
from sandbox.fleet.model import STEP, STEP_SECONDS, AnomalyWindow, Fleet, FleetInstance, Trace

WEEK_S = 7 * 86_400


@dataclass(frozen=True)
class Event:
    """One incident the model opened (times in epoch seconds)."""

    metric: str
    since: int
    alerted_at: int
    """When the opening point was judged (the event's time)."""
    ended: int
    """When the incident ended (its close, else the trace's end)."""
    dollars_per_hour: float | None


@dataclass
class InstanceRun:
    """One instance's events, labelled windows and watched span."""

    kind: str
    events: list[Event]
    windows: tuple[AnomalyWindow, ...]
    live_seconds: float
    matched: dict[int, list[Event]] = field(default_factory=dict)
    """Window index -> its events."""
    arrivals: dict[int, int] = field(default_factory=dict)
    """Window index -> when its first point was judged."""

    def false_events(self) -> list[Event]:
        true = {id(e) for events in self.matched.values() for e in events}
        return [e for e in self.events if id(e) not in true]


def _points(trace: Trace) -> list[Point]:
    return [
        Point(trace.start + STEP * i, c, n_in, n_out)
        for i, (c, n_in, n_out) in enumerate(
            zip(
                trace.cpu_percent.tolist(),
                trace.network_in_bytes.tolist(),
                trace.network_out_bytes.tolist(),
                strict=True,
            )
        )
    ]


def _priced(t: Transition, instance: FleetInstance) -> float | None:
    return anomaly_cost(
        t.metric, t.observed, t.expected_high, instance.region, instance.instance_type
    ).dollars_per_hour


def replay_instance(
    instance: FleetInstance,
    trace: Trace,
    windows: tuple[AnomalyWindow, ...],
    on: Onboarding,
    template: InstanceModel | None = None,
) -> InstanceRun:
    """Run one instance's points through its model as the service does; match its events."""
    periods = int(trace.start.timestamp()) + STEP_SECONDS * np.arange(len(trace), dtype=np.int64)
    judged = on.judged_at(periods)
    first_live = on.first_live(periods, judged)
    model = (template or InstanceModel()).clone()
    end = int(periods[-1]) + STEP_SECONDS
    model.alerts_from = int(periods[first_live]) if first_live < len(trace) else end
    opened: dict[str, tuple[Transition, int]] = {}
    closed: dict[tuple[str, int], int] = {}
    for i, point in enumerate(_points(trace)):
        model.learn_one(point)
        for t in model.transitions:
            if t.status == "open":
                opened[f"{t.metric}@{t.since}"] = (t, int(judged[i]))
            else:
                closed[(t.metric, t.since)] = t.ended_at or t.at
    events = [
        Event(
            t.metric,
            t.since,
            at,
            closed.get((t.metric, t.since), end),
            _priced(t, instance),
        )
        for t, at in opened.values()
    ]
    live = max(0, end - int(periods[min(first_live, len(trace) - 1)]))
    run = InstanceRun(instance.kind, sorted(events, key=lambda e: e.since), windows, live)
    for n, w in enumerate(windows):
        start, stop = int(w.start.timestamp()), int(w.end.timestamp())
        run.matched[n] = [e for e in run.events if start <= e.since < stop]
        run.arrivals[n] = int(on.judged_at(np.array([start]))[0])
    return run


def labelled_dollars(window: AnomalyWindow, instance: FleetInstance, trace: Trace) -> float:
    """What a labelled window cost: each metric it raised, priced from what it added."""
    at = slice(trace.index_at(window.start), trace.index_at(window.end))
    total = 0.0
    for metric, series, added in (
        ("cpu_percent", trace.cpu_percent, window.added_cpu),
        ("network_out_bytes", trace.network_out_bytes, window.added_out_bytes),
    ):
        if added <= 0:
            continue
        observed = float(series[at].mean())
        cost = anomaly_cost(
            metric, observed, observed - added, instance.region, instance.instance_type
        )
        total += (cost.dollars_per_hour or 0.0) * window.hours
    return total


@dataclass(frozen=True)
class KindScores:
    """Scores over the windows of one anomaly kind (or all)."""

    windows: int
    detected: int
    minutes_to_alert: list[float]
    dollars_labelled: float
    dollars_flagged: float

    @property
    def recall(self) -> float | None:
        return self.detected / self.windows if self.windows else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "detected": self.detected,
            "recall": self.recall,
            "minutes_to_alert": {
                "p50": quantile(self.minutes_to_alert, 0.5),
                "p90": quantile(self.minutes_to_alert, 0.9),
            },
            "dollars_labelled": round(self.dollars_labelled, 2),
            "dollars_flagged": round(self.dollars_flagged, 2),
        }


def _scores(rows: Sequence[tuple[AnomalyWindow, list[Event], int, float]]) -> KindScores:
    """Scores of (window, its events, arrival of its first point, labelled dollars) rows."""
    minutes, flagged = [], 0.0
    for window, events, arrival, _ in rows:
        if not events:
            continue
        minutes.append((min(e.alerted_at for e in events) - arrival) / 60)
        stop = int(window.end.timestamp())
        for e in events:
            hours = max(0, min(e.ended, stop) - e.since) / 3600
            flagged += (e.dollars_per_hour or 0.0) * hours
    return KindScores(
        len(rows),
        sum(bool(events) for _, events, _, _ in rows),
        minutes,
        sum(row[3] for row in rows),
        flagged,
    )


@dataclass(frozen=True)
class AnomalyReport:
    """The benchmark's figures."""

    fleet: dict[str, Any]
    onboarding: Onboarding
    per_kind: dict[str, KindScores]
    overall: KindScores
    events: int
    false_events: int
    instance_weeks: float
    false_by_kind: dict[str, int]
    """False events by the workload kind of their instance."""
    records: int
    seconds: float

    @property
    def windows(self) -> int:
        return self.overall.windows

    @property
    def false_per_100_instance_weeks(self) -> float:
        return 100 * self.false_events / self.instance_weeks if self.instance_weeks else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Every figure as JSON-ready values (the machine and date are added on writing)."""
        return {
            "fleet": self.fleet,
            "onboarding": {
                "connected": self.onboarding.connected.isoformat(),
                "settle_s": self.onboarding.settle_s,
                "live_edge_s": self.onboarding.live_edge_s,
            },
            "overall": {
                **self.overall.as_dict(),
                "events": self.events,
                "false_events": self.false_events,
                "instance_weeks": round(self.instance_weeks, 1),
                "false_per_100_instance_weeks": round(self.false_per_100_instance_weeks, 2),
            },
            "per_anomaly_kind": {k: v.as_dict() for k, v in self.per_kind.items()},
            "false_events_by_workload": self.false_by_kind,
            "throughput": {
                "records": self.records,
                "seconds": round(self.seconds, 2),
                "records_per_second": round(self.records / self.seconds) if self.seconds else 0,
            },
        }


def run_benchmark(
    fleet: Fleet, onboarding: Onboarding, template: InstanceModel | None = None
) -> AnomalyReport:
    """Replay every instance of ``fleet`` through the model and score its anomaly events."""
    began = time.perf_counter()
    rows: dict[str, list[tuple[AnomalyWindow, list[Event], int, float]]] = {}
    events = false = records = 0
    live = 0.0
    false_by_kind: dict[str, int] = {}
    for iid, trace in fleet.traces.items():
        instance = fleet.instances[iid]
        windows = fleet.anomalies.get(iid, ())
        run = replay_instance(instance, trace, windows, onboarding, template)
        records += len(trace)
        events += len(run.events)
        wrong = len(run.false_events())
        false += wrong
        if wrong:
            false_by_kind[run.kind] = false_by_kind.get(run.kind, 0) + wrong
        live += run.live_seconds
        for n, w in enumerate(windows):
            row = (w, run.matched[n], run.arrivals[n], labelled_dollars(w, instance, trace))
            rows.setdefault(w.kind, []).append(row)
    return AnomalyReport(
        fleet=fleet_facts(fleet),
        onboarding=onboarding,
        per_kind={k: _scores(v) for k, v in sorted(rows.items())},
        overall=_scores([row for kind_rows in rows.values() for row in kind_rows]),
        events=events,
        false_events=false,
        instance_weeks=live / WEEK_S,
        false_by_kind=dict(sorted(false_by_kind.items())),
        records=records,
        seconds=time.perf_counter() - began,
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _minutes(values: list[float]) -> str:
    p50, p90 = quantile(values, 0.5), quantile(values, 0.9)
    return "-" if p50 is None or p90 is None else f"{p50:.0f} / {p90:.0f}"


def table(report: AnomalyReport, markdown: bool = False) -> str:
    """Per anomaly kind and overall: windows, recall, time to alert, dollars."""
    headers = [
        "anomaly",
        "windows",
        "recall",
        "minutes to alert p50 / p90",
        "$ labelled",
        "$ flagged",
    ]
    rows = [
        [
            name,
            str(s.windows),
            _ratio(s.recall),
            _minutes(s.minutes_to_alert),
            f"{s.dollars_labelled:,.2f}",
            f"{s.dollars_flagged:,.2f}",
        ]
        for name, s in [*report.per_kind.items(), ("overall", report.overall)]
    ]
    return format_table(headers, rows, markdown)
