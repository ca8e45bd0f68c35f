"""The fleet's resources beyond instances, generated with their labels: :func:`generate_resources`.

Each kind gets ``count`` resources, its cases taken in turn (:data:`CASES`), each in the
account and region of a fleet instance drawn for it. Times are relative to the fleet's
``start`` S, onboarding O = S + ``history_days`` (the sandbox's start: what is before it is
history, what follows plays live) and end E = S + ``days``; metric series begin
``lookback_days`` before S (CloudWatch keeps 5-minute data 63 days), so a month-end pattern
has been seen before the onboarding.

Facts per kind (times as UTC ISO 8601), besides ``case`` (which of :data:`CASES` made it):

- ``ebs-volume``: ``size_gb``, ``volume_type``, ``created``, ``attached_to`` (instance id or
  null), ``instance_state`` (of ``attached_to``: ``running`` or ``stopped``),
  ``instance_stopped_at``, ``detached_at`` and ``reattached_at`` (null when not).
- ``elastic-ip``: ``public_ip``, ``allocated``, ``associated_with`` (instance id or null),
  ``disassociated_at``, ``reassociated_at``.
- ``nat-gateway``: ``created``, ``connectivity`` (``public``).
- ``load-balancer``: ``type`` (``application`` | ``network``), ``scheme``, ``created``.
- ``rds-instance``: ``engine``, ``instance_class``, ``storage_gb``, ``created``.
- ``ebs-snapshot``: ``size_gb``, ``created``, ``volume_id``, ``volume_exists``, ``ami_id``
  (or null), ``ami_exists``.

Labels follow the issue's rules: an unattached volume is waste 24 h after it was detached, a
volume of a stopped instance 7 days after the stop, an unassociated address 1 h after it was
freed, a snapshot whose volume and AMI are gone once it is 30 days old; a metric kind from its
last activity (its quiet then outlasts anything its history shows). Near misses are never
waste: a NAT gateway busy only at month end, a load balancer behind a weekly job, a volume
detached for a maintenance window and re-attached, an address moved within minutes, a
database used only by a nightly report, a stopped instance's volume inside its 7 days.
Protected resources (tag ``spendsense:protect``) are labelled as any other: they are found
and shown, and never acted on. No metric kind is silent at rest (:func:`_series`): most carry
the background a real one does (agents' chatter, scanners' requests, a monitoring agent's
connection), before, between and after their use, and it is never labelled use.

>>> from sandbox.fleet.generator import FleetSpec, generate_fleet
>>> fleet = generate_fleet(FleetSpec(seed=1, instances=16, days=21, resources=6))
>>> sorted({r.kind for r in fleet.resources.values()}) == sorted(RESOURCE_KINDS)
True
>>> len(fleet.series) == 18  # NAT gateways, load balancers and databases
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from sandbox.fleet.layout import utc_text
from sandbox.fleet.model import (
    STEP,
    FleetInstance,
    FleetResource,
    FloatArray,
    ResourceLabel,
    ResourceSeries,
)
from sandbox.fleet.resource_prices import monthly_usd
from spendsense.events import RESOURCE_KINDS

RDS_CLASSES = ("db.t3.micro", "db.t3.medium", "db.m5.large", "db.r5.large")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
PROTECT_TAG = "spendsense:protect"
VOLUME_GRACE = DAY
STOPPED_GRACE = 7 * DAY
ADDRESS_GRACE = HOUR
SNAPSHOT_RETENTION = 30 * DAY

CASES: dict[str, tuple[str, ...]] = {
    "ebs-volume": (
        "attached",
        "unattached",
        "maintenance",
        "stopped-long",
        "unattached-live",
        "stopped-crossing",
        "never-attached",
        "protected",
    ),
    "elastic-ip": ("associated", "unassociated", "moved", "unassociated-live", "protected"),
    "ebs-snapshot": (
        "volume-kept",
        "orphan-old",
        "ami-kept",
        "orphan-crossing",
        "orphan-young",
        "protected",
    ),
    "nat-gateway": ("busy", "abandoned", "month-end", "never-used", "abandoned-late", "protected"),
    "load-balancer": (
        "busy",
        "abandoned",
        "weekly-job",
        "never-used",
        "abandoned-late",
        "protected",
    ),
    "rds-instance": (
        "busy",
        "abandoned",
        "nightly-report",
        "never-used",
        "abandoned-late",
        "protected",
    ),
}
"""Each kind's cases, taken in turn; ``protected`` is the kind's first waste case, tagged."""


@dataclass(frozen=True)
class Span:
    """The fleet's times: start, onboarding, end, and where metric series begin."""

    start: datetime
    onboarding: datetime
    end: datetime
    series_start: datetime

    def between(self, rng: np.random.Generator, low: datetime, high: datetime) -> datetime:
        """A time on the 5-minute grid, uniform in ``[low, high]``."""
        steps = max(0, int((high - low) / STEP))
        return low + STEP * int(rng.integers(0, steps + 1))

    def points(self) -> int:
        """Points in a metric series."""
        return int((self.end - self.series_start) / STEP) + 1


@dataclass(frozen=True)
class Draft:
    """A resource being made: where, what, and its waste (since when, why)."""

    kind: str
    resource_id: str
    instance: FleetInstance
    name: str
    tags: dict[str, str]
    facts: dict[str, object]
    since: datetime | None
    reason: str


Maker = Callable[
    [np.random.Generator, str, FleetInstance, Span], tuple[dict[str, object], datetime | None, str]
]


def _hex(rng: np.random.Generator, n: int = 17) -> str:
    return rng.bytes(9).hex()[:n]


def _t(when: datetime | None) -> str | None:
    return utc_text(when) if when is not None else None


def _created(rng: np.random.Generator, span: Span) -> datetime:
    return span.between(rng, span.series_start - 200 * DAY, span.series_start - DAY)


def _volume(
    rng: np.random.Generator, case: str, host: FleetInstance, span: Span
) -> tuple[dict[str, object], datetime | None, str]:
    facts: dict[str, object] = {
        "size_gb": int(rng.choice([20, 50, 100, 200, 500, 1000])),
        "volume_type": str(rng.choice(["gp3", "gp2"], p=[0.7, 0.3])),
        "created": _t(_created(rng, span)),
        "attached_to": host.instance_id,
        "instance_state": "running",
        "instance_stopped_at": None,
        "detached_at": None,
        "reattached_at": None,
    }
    on, end = span.onboarding, span.end
    if case in ("unattached", "protected"):
        gone = span.between(rng, on - 40 * DAY, on - 2 * DAY)
        facts["detached_at"] = _t(gone)
        return facts, gone + VOLUME_GRACE, "unattached for more than 24 h"
    if case == "unattached-live":
        gone = span.between(rng, on + 2 * HOUR, end - 2 * DAY)
        facts["detached_at"] = _t(gone)
        return (
            facts,
            gone + VOLUME_GRACE,
            "unattached for more than 24 h (detached after onboarding)",
        )
    if case == "maintenance":
        gone = span.between(rng, on + 2 * HOUR, end - DAY)
        facts["detached_at"] = _t(gone)
        facts["reattached_at"] = _t(gone + STEP * int(rng.integers(12, 73)))
        return facts, None, "detached for a maintenance window, re-attached"
    if case == "never-attached":
        made = span.between(rng, on - 60 * DAY, on - 2 * DAY)
        facts.update(created=_t(made), attached_to=None, instance_state=None)
        return facts, made + VOLUME_GRACE, "never attached, more than 24 h old"
    if case in ("stopped-long", "stopped-crossing"):
        facts["attached_to"] = "i-" + _hex(rng)
        facts["instance_state"] = "stopped"
        if case == "stopped-long":
            stopped = span.between(rng, on - 40 * DAY, on - 8 * DAY)
        else:  # inside its 7 days at onboarding, past them by the end
            stopped = span.between(rng, on - 6 * DAY, min(on - DAY, end - STOPPED_GRACE - HOUR))
        facts["instance_stopped_at"] = _t(stopped)
        return (
            facts,
            stopped + STOPPED_GRACE,
            "attached to an instance stopped for more than 7 days",
        )
    return facts, None, "attached to a running instance"


def _address(
    rng: np.random.Generator, case: str, host: FleetInstance, span: Span
) -> tuple[dict[str, object], datetime | None, str]:
    facts: dict[str, object] = {
        "public_ip": f"{rng.integers(3, 54)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}",
        "allocated": _t(_created(rng, span)),
        "associated_with": host.instance_id,
        "disassociated_at": None,
        "reassociated_at": None,
    }
    on, end = span.onboarding, span.end
    if case in ("unassociated", "protected"):
        freed = span.between(rng, on - 40 * DAY, on - 2 * HOUR)
        facts["disassociated_at"] = _t(freed)
        return facts, freed + ADDRESS_GRACE, "not associated for more than an hour"
    if case == "unassociated-live":
        freed = span.between(rng, on + 2 * HOUR, end - DAY)
        facts["disassociated_at"] = _t(freed)
        return (
            facts,
            freed + ADDRESS_GRACE,
            "not associated for more than an hour (freed after onboarding)",
        )
    if case == "moved":
        freed = span.between(rng, on + 2 * HOUR, end - DAY)
        facts["disassociated_at"] = _t(freed)
        facts["reassociated_at"] = _t(freed + STEP * int(rng.integers(2, 9)))
        return facts, None, "moved to another instance within minutes"
    return facts, None, "associated with a running instance"


def _snapshot(
    rng: np.random.Generator, case: str, host: FleetInstance, span: Span
) -> tuple[dict[str, object], datetime | None, str]:
    on, end = span.onboarding, span.end
    facts: dict[str, object] = {
        "size_gb": int(rng.choice([8, 20, 50, 100, 200, 500])),
        "volume_id": "vol-" + _hex(rng),
        "volume_exists": False,
        "ami_id": None,
        "ami_exists": False,
    }
    if case == "volume-kept":
        facts["volume_exists"] = True  # the seeder creates its volume, attached to ``host``
        facts["created"] = _t(span.between(rng, on - 200 * DAY, on - DAY))
        return facts, None, "its volume still exists"
    if case == "ami-kept":  # the seeder registers its AMI
        facts.update(ami_id="ami-" + _hex(rng), ami_exists=True)
        facts["created"] = _t(span.between(rng, on - 200 * DAY, on - DAY))
        return facts, None, "its AMI still exists"
    if case in ("orphan-old", "protected"):
        made = span.between(rng, on - 300 * DAY, on - SNAPSHOT_RETENTION - DAY)
        if rng.random() < 0.5:
            facts["ami_id"] = "ami-" + _hex(rng, 17)
    elif case == "orphan-crossing":
        made = span.between(rng, on - SNAPSHOT_RETENTION + HOUR, end - SNAPSHOT_RETENTION - DAY)
    else:
        made = span.between(rng, end - SNAPSHOT_RETENTION + 2 * DAY, on - DAY)
    facts["created"] = _t(made)
    since = made + SNAPSHOT_RETENTION
    if since > end:
        return facts, None, "its volume and AMI are gone, but it is younger than 30 days"
    return facts, since, "its volume and AMI are gone and it is older than 30 days"


def _metric_kind(
    rng: np.random.Generator, case: str, host: FleetInstance, span: Span
) -> tuple[dict[str, object], datetime | None, str]:
    facts: dict[str, object] = {"created": _t(_created(rng, span))}
    on, end = span.onboarding, span.end
    if case in ("abandoned", "protected"):
        quiet = span.between(rng, on - 12 * DAY, on - 3 * DAY)
    elif case == "abandoned-late":  # not yet waste at onboarding, waste by the end
        latest = min(on - 2 * DAY, end - 9 * DAY)
        quiet = span.between(rng, latest - DAY, latest)
    elif case == "never-used":
        return facts, span.series_start, "no activity in its whole history"
    else:
        return (
            facts,
            None,
            {
                "busy": "in use",
                "month-end": "busy only at month end",
                "weekly-job": "busy once a week",
                "nightly-report": "used only by a nightly report",
            }[case],
        )
    facts["last_active"] = _t(quiet)
    return facts, quiet, "no activity since it was last used, longer than its history explains"


_NAMES = {
    "ebs-volume": "data",
    "elastic-ip": "ip",
    "ebs-snapshot": "backup",
    "nat-gateway": "nat",
    "load-balancer": "lb",
    "rds-instance": "db",
}
_MAKERS: dict[str, Maker] = {
    "ebs-volume": _volume,
    "elastic-ip": _address,
    "ebs-snapshot": _snapshot,
    "nat-gateway": _metric_kind,
    "load-balancer": _metric_kind,
    "rds-instance": _metric_kind,
}


def _kind_facts(rng: np.random.Generator, kind: str) -> dict[str, object]:
    if kind == "nat-gateway":
        return {"connectivity": "public"}
    if kind == "load-balancer":
        return {
            "type": str(rng.choice(["application", "network"], p=[0.75, 0.25])),
            "scheme": "internet-facing",
        }
    if kind == "rds-instance":
        return {
            "engine": str(rng.choice(["mysql", "postgres"])),
            "instance_class": str(rng.choice(RDS_CLASSES)),
            "storage_gb": int(rng.choice([20, 100, 500])),
        }
    return {}


def _resource_id(rng: np.random.Generator, kind: str, name: str, host: FleetInstance) -> str:
    """A load balancer's and a database's id is its ARN (a database's identifier, its
    name, is unique only within one account and region); the others' an AWS-style id."""
    if kind == "load-balancer":
        return (
            f"arn:aws:elasticloadbalancing:{host.region}:{host.account_id}:loadbalancer/app/{name}/"
            + _hex(rng, 16)
        )
    if kind == "rds-instance":
        return f"arn:aws:rds:{host.region}:{host.account_id}:db:{name}"
    prefix = {
        "ebs-volume": "vol-",
        "elastic-ip": "eipalloc-",
        "ebs-snapshot": "snap-",
        "nat-gateway": "nat-",
    }
    return prefix[kind] + _hex(rng)


def _draft(seed: int, kind: str, n: int, instances: list[FleetInstance], span: Span) -> Draft:
    rng = np.random.default_rng([seed, 7919, RESOURCE_KINDS.index(kind), n])
    case = CASES[kind][n % len(CASES[kind])]
    host = instances[int(rng.integers(0, len(instances)))]
    team = host.tags.get("team", "platform")
    name = f"{team}-{_NAMES[kind]}-{n:03d}"
    facts = _kind_facts(rng, kind)
    more, since, reason = _MAKERS[kind](rng, case, host, span)
    facts.update(more)
    if kind == "load-balancer" and facts["type"] == "network":
        rid = _resource_id(rng, kind, name, host).replace("/app/", "/net/")
    else:
        rid = _resource_id(rng, kind, name, host)
    facts["case"] = case
    tags = {"Name": name, "team": team}
    if case == "protected":
        tags[PROTECT_TAG] = "true"
    return Draft(kind, rid, host, name, tags, facts, since, reason)


def _diurnal(rng: np.random.Generator, span: Span, low: float, high: float) -> FloatArray:
    """A daily cycle between ``low`` and ``high`` with noise, never under ``low``."""
    hours = (np.arange(span.points()) / 12.0 + span.series_start.hour) % 24
    shape = 0.5 - 0.5 * np.cos((hours - 3) / 24 * 2 * np.pi)
    noise = rng.uniform(0.8, 1.2, span.points())
    return low + (high - low) * shape * noise


def _windows(span: Span, keep: Callable[[datetime], bool]) -> FloatArray:
    """1.0 at the points whose time ``keep`` accepts, else 0.0."""
    stamps = [span.series_start + STEP * i for i in range(span.points())]
    return np.array([1.0 if keep(t) else 0.0 for t in stamps])


def _job(rng: np.random.Generator, span: Span, keep: Callable[[datetime], bool]) -> FloatArray:
    """A batch job's intensity: its own (0.3 to 1) inside its windows, whatever the hour."""
    return rng.uniform(0.3, 1.0, span.points()) * _windows(span, keep)


def _activity(
    rng: np.random.Generator, case: str, span: Span, since: datetime | None
) -> FloatArray:
    """How busy the resource is at each point, 0 (no activity) to about 1."""
    if case == "never-used":
        return np.zeros(span.points())
    if case == "month-end":
        level = _job(rng, span, lambda t: (t + 2 * DAY).month != t.month)
    elif case == "weekly-job":
        day, hour = int(rng.integers(0, 7)), int(rng.integers(0, 20))
        level = _job(rng, span, lambda t: t.weekday() == day and hour <= t.hour < hour + 3)
    elif case == "nightly-report":
        minutes = int(rng.choice([30, 45, 60]))
        level = _job(rng, span, lambda t: t.hour == 2 and t.minute < minutes)
    else:
        level = _diurnal(rng, span, 0.05, 1.0)
    if since is not None:
        level[int((since - span.series_start) / STEP) :] = 0.0
    return level


def _rest_rate(rng: np.random.Generator, span: Span, per_day: float) -> FloatArray:
    """Background at rest, per point: ``per_day`` (0 for a quarter of the resources: a
    private one nobody scans, no agent behind it) spread over the day, each day 0.7-1.3 of
    it."""
    if rng.random() < 0.25:
        return np.zeros(span.points())
    days = rng.uniform(0.7, 1.3, span.points() // 288 + 1)
    return per_day / 288 * np.repeat(days, 288)[: span.points()]


def _series(rng: np.random.Generator, draft: Draft, span: Span) -> ResourceSeries:
    """The metric series of a NAT gateway, load balancer or database: its use (labelled)
    on top of the background every real one keeps at rest (never labelled use): the agents'
    chatter through a NAT gateway (up to 40 MB a day, a few long-polled connections), the
    scanners' requests to an internet-facing balancer (up to 150 a day, small 503 answers), a
    monitoring agent's connection to a database."""
    level = _activity(rng, str(draft.facts["case"]), span, draft.since)
    active = level > 0
    points = span.points()
    if draft.kind == "nat-gateway":
        scale = float(rng.uniform(5e6, 5e8))
        chatter = _rest_rate(rng, span, float(rng.uniform(1e6, 40e6)))
        polls = float(rng.integers(0, 5)) * (chatter > 0)
        columns = {
            "BytesOutToDestination": np.rint(level * scale + chatter * rng.uniform(0, 2, points)),
            "ActiveConnectionCount": np.rint(level * rng.uniform(10, 500)) + active + polls,
        }
    elif draft.kind == "load-balancer":
        scans = rng.poisson(_rest_rate(rng, span, float(rng.uniform(20, 150))))
        requests = np.rint(level * rng.uniform(50, 5000)) + active
        cut = points if draft.since is None else int((draft.since - span.series_start) / STEP)
        healthy = np.where(np.arange(points) < cut, float(rng.integers(1, 5)), 0.0)
        columns = {
            "RequestCount": requests + scans,
            "ProcessedBytes": requests * rng.uniform(2e3, 5e4) + scans * rng.uniform(300, 800),
            "HealthyHostCount": healthy,
        }
    else:
        agent = float(rng.random() < 0.6)
        connections = np.rint(level * rng.uniform(3, 60)) + active
        columns = {"DatabaseConnections": connections + agent}
    return ResourceSeries(span.series_start, {k: np.round(v, 3) for k, v in columns.items()})


def generate_resources(
    seed: int, count: int, instances: list[FleetInstance], span: Span
) -> tuple[dict[str, FleetResource], dict[str, ResourceSeries]]:
    """``count`` resources of each kind in the accounts and regions of ``instances``, with
    their labels, and the metric series of the metric kinds."""
    resources: dict[str, FleetResource] = {}
    series: dict[str, ResourceSeries] = {}
    for kind in RESOURCE_KINDS:
        for n in range(count):
            draft = _draft(seed, kind, n, instances, span)
            waste = draft.since is not None and draft.since <= span.end
            label = ResourceLabel(
                waste,
                draft.reason,
                monthly_usd(kind, draft.instance.region, draft.facts),
                draft.since if waste else None,
            )
            resources[draft.resource_id] = FleetResource(
                kind=kind,
                resource_id=draft.resource_id,
                tenant=draft.instance.tenant,
                account_id=draft.instance.account_id,
                region=draft.instance.region,
                name=draft.name,
                label=label,
                tags=draft.tags,
                facts=draft.facts,
            )
            if kind in ("nat-gateway", "load-balancer", "rds-instance"):
                rng = np.random.default_rng([seed, 7927, RESOURCE_KINDS.index(kind), n])
                series[draft.resource_id] = _series(rng, draft, span)
    return resources, series
