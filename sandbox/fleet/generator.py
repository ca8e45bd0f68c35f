"""The seeded synthetic trace fleet: same :class:`FleetSpec`, same fleet, byte for byte.

Every instance draws from its own generator seeded by ``(seed, index)``, so an instance
does not change when another kind's code changes how much it draws.

>>> fleet = generate_fleet(FleetSpec(seed=3, instances=16, days=2, history_days=1))
>>> len(fleet.instances), len({i.kind for i in fleet.instances.values()})  # every kind once
(16, 16)
>>> {i.account_id for i in fleet.instances.values()} == {"111111111111", "222222222222"}
True
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from sandbox.fleet import catalog
from sandbox.fleet.anomalies import add_anomaly
from sandbox.fleet.model import STEP, STEP_SECONDS, AnomalyWindow, Fleet, FleetInstance, Trace
from sandbox.fleet.resources import Span, generate_resources
from sandbox.fleet.workloads import (
    AGENT_KINDS,
    IDLE_AT_LAUNCH,
    KINDS,
    POINTS_PER_DAY,
    Clock,
    Context,
)
from spendsense.errors import ConfigError

DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)

KIND_SHARES: dict[str, float] = dict.fromkeys(KINDS, 1 / len(KINDS))
"""Share of the fleet each workload kind gets: equal (every kind appears once the fleet
has 16; a 480-instance fleet has 30 of each)."""

_LAUNCH_IN_HORIZON = {
    "web-diurnal": 0.1,
    "steady-service": 0.1,
    "idle-since-launch": 0.3,
    "idle-with-spikes": 0.15,
    **dict.fromkeys(AGENT_KINDS, 0.2),
    "internal-service": 0.1,
    "queue-worker": 0.1,
    "steady-proxy": 0.1,
}
_SPOT = {
    "nightly-batch": 0.3,
    "weekly-job": 0.3,
    "nab-replay": 0.15,
    "web-diurnal": 0.1,
    "queue-worker": 0.3,
}
_ASG = {
    "web-diurnal": 0.5,
    "idle-with-spikes": 0.3,
    "nab-replay": 0.2,
    "agent-runtime": 0.2,
    "internal-service": 0.2,
    "queue-worker": 0.3,
    "steady-proxy": 0.4,
}
_ENV_WEIGHTS = {
    "web": (0.6, 0.2, 0.1, 0.1),
    "service": (0.6, 0.2, 0.1, 0.1),
    "batch": (0.7, 0.1, 0.1, 0.1),
    "dev": (0.1, 0.2, 0.45, 0.25),
    "burstable": (0.3, 0.2, 0.3, 0.2),
}


@dataclass(frozen=True)
class FleetSpec:
    """What to generate: ``days`` of 5-minute points from ``start`` (floored to the grid).

    ``history_days`` is how much the sandbox shows as history before going live; most
    abandoned instances go idle after it, so detectors are tested on fresh transitions.
    ``anomalies`` is the share of never-idle instances given a labelled usage anomaly after
    it (:mod:`sandbox.fleet.anomalies`; 0 by default, so fleets without it stay as they were).
    """

    seed: int
    instances: int = 300
    days: float = 21.0
    tenants: int = 2
    start: datetime = DEFAULT_START
    history_days: float = 14.0
    anomalies: float = 0.0
    resources: int = 0
    """Resources of each kind beyond instances (:mod:`sandbox.fleet.resources`; 0 by default)."""
    lookback_days: float = 42.0
    """How long before ``start`` the resources' metric series begin."""

    def validate(self) -> None:
        """Raise ConfigError with one line when a field is out of range."""
        if self.instances < 1:
            raise ConfigError(f"--instances must be at least 1, got {self.instances}")
        if not 1 <= self.days <= 90:
            raise ConfigError(f"--days must be between 1 and 90, got {self.days}")
        if not 1 <= self.tenants <= 99:
            raise ConfigError(f"--tenants must be between 1 and 99, got {self.tenants}")
        if not 0 <= self.resources <= 10_000:
            raise ConfigError(f"--resources must be between 0 and 10000, got {self.resources}")
        if self.resources and self.days - self.history_days < 2:
            raise ConfigError(
                f"--resources needs at least 2 live days after the {self.history_days:g} days "
                f"of history; raise --days (now {self.days:g})"
            )
        if not 0.0 <= self.anomalies <= 1.0:
            raise ConfigError(f"--anomalies must be between 0 and 1, got {self.anomalies}")
        if self.start.tzinfo is None:
            raise ConfigError("--start needs a time zone, e.g. 2026-11-01T00:00:00Z")


def _kind_list(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` kinds in the shares of KIND_SHARES (largest remainder), shuffled."""
    exact = {k: share * count for k, share in KIND_SHARES.items()}
    counts = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(exact, key=lambda k: (counts[k] - exact[k], k))
    for k in by_remainder[: count - sum(counts.values())]:
        counts[k] += 1
    kinds = [k for k in KIND_SHARES for _ in range(counts[k])]
    rng.shuffle(kinds)
    return kinds


def _tags(
    rng: np.random.Generator, role: str, tenant: catalog.Tenant, index: int
) -> dict[str, str]:
    team = str(rng.choice(catalog.TEAMS))
    env = str(rng.choice(catalog.ENVS, p=_ENV_WEIGHTS[role]))
    tags = {
        "Name": f"{team}-{role}-{index:03d}",
        "team": team,
        "env": env,
        "owner": f"{rng.choice(catalog.PEOPLE)}@{tenant.name}.example.com",
    }
    if rng.random() < (0.12 if env == "prod" else 0.02):
        tags["spendsense:protect"] = "true"
    if rng.random() < (0.3 if env in ("dev", "test", "staging") else 0.03):
        tags["spendsense:auto-stop"] = "true"
    return tags


def _instance_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        iid = "i-" + rng.bytes(9).hex()[:17]
        if iid not in taken:
            taken.add(iid)
            return iid


def _first_point(rng: np.random.Generator, kind: str, points: int, idle_at_launch: bool) -> int:
    """The point an instance launched inside the horizon starts at; 0 if launched before it.

    Such launches come at least a day after the start and 3 days before the end; an
    instance idle from launch at least 8 days before the end, so that a whole week of its
    idleness is seen (a detector needs a week before it calls a never-active machine idle).
    The busy-then-idle form of an agent kind runs from before the horizon, so that its busy
    history is there to be seen (a week of it, or a week of idleness, is what a verdict needs).
    """
    if kind in AGENT_KINDS and not idle_at_launch:
        return 0
    latest = points - (8 if idle_at_launch else 3) * POINTS_PER_DAY
    if latest > POINTS_PER_DAY and rng.random() < _LAUNCH_IN_HORIZON.get(kind, 0.0):
        return int(rng.integers(POINTS_PER_DAY, latest))
    return 0


def generate_fleet(spec: FleetSpec, progress: Callable[[int, int], None] | None = None) -> Fleet:
    """The fleet ``spec`` describes; ``progress(done, total)`` is called every 50 instances."""
    spec.validate()
    epoch = int(spec.start.timestamp()) // STEP_SECONDS * STEP_SECONDS
    start = datetime.fromtimestamp(epoch, tz=UTC)
    points = int(spec.days * POINTS_PER_DAY)
    history = int(spec.history_days * POINTS_PER_DAY)
    kinds = _kind_list(np.random.default_rng(spec.seed), spec.instances)
    all_tenants = catalog.tenants(spec.tenants)
    instances: dict[str, FleetInstance] = {}
    traces: dict[str, Trace] = {}
    labels: dict[str, datetime | None] = {}
    anomalies: dict[str, tuple[AnomalyWindow, ...]] = {}
    taken: set[str] = set()
    for index, kind in enumerate(kinds):
        rng = np.random.default_rng([spec.seed, index])
        role = catalog.ROLE_BY_KIND[kind]
        tenant = all_tenants[int(rng.integers(0, len(all_tenants)))]
        region = str(rng.choice(list(catalog.REGIONS), p=[0.6, 0.4]))
        tags = _tags(rng, role, tenant, index)
        asg_name = None
        instance_type = str(rng.choice(catalog.INSTANCE_TYPES[role]))
        root_device = "ebs"
        if rng.random() < _ASG.get(kind, 0.0):
            asg_name = f"{tags['team']}-{role}-{region}-asg"
            family = catalog.INSTANCE_TYPES[role]
            instance_type = family[zlib.crc32(asg_name.encode()) % len(family)]
            tags["aws:autoscaling:groupName"] = asg_name
        elif role != "burstable" and rng.random() < 0.05:  # t3/t3a/t4g boot from EBS only
            root_device = "instance-store"
            instance_type = str(rng.choice(catalog.INSTANCE_STORE_TYPES))
        lifecycle = "spot" if rng.random() < _SPOT.get(kind, 0.03) else "on-demand"
        idle_at_launch = rng.random() < IDLE_AT_LAUNCH.get(kind, 0.0)
        first = _first_point(rng, kind, points, idle_at_launch)
        trace_start = start + STEP * first
        if first:
            launch = trace_start - timedelta(seconds=int(rng.integers(0, STEP_SECONDS)))
        else:
            launch = start - timedelta(seconds=int(rng.integers(2 * 86400, 400 * 86400)))
        clock = Clock(epoch + first * STEP_SECONDS, points - first)
        context = Context(rng, clock, catalog.REGIONS[region], history - first, idle_at_launch)
        work = KINDS[kind](context)
        iid = _instance_id(rng, taken)
        if work.idle_from is None and spec.anomalies:
            odd = np.random.default_rng([spec.seed, index, 1])  # leaves the fleet's draws alone
            window = (
                add_anomaly(odd, kind, work, context) if odd.random() < spec.anomalies else None
            )
            if window is not None:
                anomalies[iid] = (window,)
        instances[iid] = FleetInstance(
            instance_id=iid,
            account_id=tenant.account_id,
            tenant=tenant.name,
            region=region,
            instance_type=instance_type,
            launch_time=launch,
            lifecycle=lifecycle,
            root_device_type=root_device,
            asg_name=asg_name,
            kind=kind,
            state="running",
            tags=tags,
        )
        traces[iid] = Trace(
            trace_start,
            np.round(work.cpu, 3),
            np.rint(work.net_in),
            np.rint(work.net_out),
        )
        labels[iid] = None if work.idle_from is None else trace_start + STEP * work.idle_from
        if progress is not None and ((index + 1) % 50 == 0 or index + 1 == len(kinds)):
            progress(index + 1, len(kinds))
    span = Span(
        start,
        start + timedelta(days=spec.history_days),
        start + STEP * (points - 1),
        start - timedelta(days=spec.lookback_days),
    )
    resources, series = generate_resources(
        spec.seed, spec.resources, list(instances.values()), span
    )
    return Fleet(None, instances, traces, labels, anomalies, resources, series)
