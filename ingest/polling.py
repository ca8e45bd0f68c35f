"""Polling policies: how often each instance's metrics are asked for, and which metrics.

GetMetricData is billed per metric requested, whatever the window, and a poll returns
every point since the previous one: polling less often delays a verdict but loses no
data. A policy maps an instance's *tier* (what its latest points looked like) to a
:class:`PollPlan`; after each poll it reclassifies the instance from the points it got.

The adaptive default polls plainly busy instances hourly and for CPU only (a busy CPU
is enough to know the instance works), low-CPU instances that serve steady traffic
every two hours, instances near idle every 30 minutes with all three metrics (the
detector needs the network to tell an idle box from a quiet server), and instances
quiet for five hours every six hours, all three metrics (a rest at agents' level is told
from a quiet server by its traffic in and out). Chosen with
``spendsense bench collect`` (figures in the README).

>>> p = POLICIES["adaptive"]
>>> p.plan("busy").metrics
('CPUUtilization',)
>>> p.classify("new", Activity(cpu_p50=55.0, cpu_max=90.0, net_mean=1e6, quiet_for_s=0))
'busy'
>>> p.classify("busy", Activity(cpu_p50=0.4, cpu_max=1.0, net_mean=None, quiet_for_s=0))
'suspect'
>>> p.classify("suspect", Activity(cpu_p50=0.4, cpu_max=1.0, net_mean=10.0, quiet_for_s=90000))
'dormant'
>>> POLICIES["naive"].plan("busy")
PollPlan(interval_s=300, metrics=('CPUUtilization', 'NetworkIn', 'NetworkOut'))
"""

from __future__ import annotations

import statistics
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from spendsense.ec2_metrics import CLOUDWATCH_NAMES, EC2_METRICS

ALL_METRICS = CLOUDWATCH_NAMES
STATISTICS = {m.name: m.statistic for m in EC2_METRICS}
FIELDS = {m.name: m.field for m in EC2_METRICS}
TIERS = ("new", "busy", "serving", "suspect", "dormant")
QUIET_TIERS = frozenset({"suspect", "dormant"})


@dataclass(frozen=True)
class PollPlan:
    """Poll at most every ``interval_s`` seconds, asking for ``metrics``."""

    interval_s: int
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Activity:
    """What an instance's most recent hour of points looked like."""

    cpu_p50: float | None
    cpu_max: float | None
    net_mean: float | None  # bytes per period, in + out; None when not asked for
    quiet_for_s: float  # how long its CPU has sat near the floor (0 when busy)


class Sample(Protocol):
    """One period's values as the collector publishes them and the model reads them."""

    @property
    def timestamp(self) -> datetime: ...
    @property
    def cpu_percent(self) -> float | None: ...
    @property
    def network_in_bytes(self) -> float | None: ...
    @property
    def network_out_bytes(self) -> float | None: ...


class PollingPolicy(ABC):
    """Maps tiers to poll plans and points to tiers."""

    name: str

    @abstractmethod
    def plan(self, tier: str) -> PollPlan:
        """How to poll an instance in ``tier``."""

    def classify(self, tier: str, activity: Activity) -> str:
        """The tier after a poll; fixed policies keep one tier."""
        return tier

    def is_quiet(self, activity: Activity) -> bool:
        """Whether an hour that looked like ``activity`` is near idle (part of a quiet run)."""
        return False


@dataclass(frozen=True)
class FixedPolicy(PollingPolicy):
    """Every instance at the same interval for every metric."""

    name: str
    interval_s: int

    def plan(self, tier: str) -> PollPlan:
        return PollPlan(self.interval_s, ALL_METRICS)


@dataclass(frozen=True)
class AdaptivePolicy(PollingPolicy):
    """Busy instances rarely and CPU only; near-idle often with everything; dormant rarely."""

    name: str
    busy_s: int = 3600
    serving_s: int = 2 * 3600
    suspect_s: int = 1800
    dormant_s: int = 6 * 3600
    busy_cpu_p50: float = 8.0  # median CPU over the last hour above this: plainly busy
    # in + out bytes per 5-minute period above this: serving (25x the model's idle floor)
    serving_net: float = 1_500_000.0
    # quiet this long: dormant. Past the model's shortest rest verdict (3 hours of points with
    # CPU and network; a busy tier's last hour brings CPU only), so an instance resting at its
    # agents' level is judged while still polled every 30 minutes
    dormant_after_s: int = 5 * 3600
    busy_metrics: tuple[str, ...] = ("CPUUtilization",)
    suspect_metrics: tuple[str, ...] = ALL_METRICS
    # all three: a server's outbound traffic is what tells it from an idle box at rest
    dormant_metrics: tuple[str, ...] = ALL_METRICS

    def plan(self, tier: str) -> PollPlan:
        if tier == "busy":
            return PollPlan(self.busy_s, self.busy_metrics)
        if tier == "dormant":
            return PollPlan(self.dormant_s, self.dormant_metrics)
        if tier == "serving":
            return PollPlan(self.serving_s, ALL_METRICS)
        if tier == "suspect":
            return PollPlan(self.suspect_s, self.suspect_metrics)
        return PollPlan(0, ALL_METRICS)

    def classify(self, tier: str, activity: Activity) -> str:
        if activity.cpu_p50 is None:
            return tier
        if activity.cpu_p50 >= self.busy_cpu_p50:
            return "busy"
        if activity.net_mean is not None and activity.net_mean >= self.serving_net:
            return "serving"
        if activity.quiet_for_s >= self.dormant_after_s:
            return "dormant"
        return "suspect"

    def is_quiet(self, activity: Activity) -> bool:
        if activity.cpu_p50 is None or activity.cpu_p50 >= self.busy_cpu_p50:
            return False
        return activity.net_mean is None or activity.net_mean < self.serving_net


def hour_activity(samples: Sequence[Sample], quiet_for_s: float = 0.0) -> Activity | None:
    """What an hour (up to 12 points) looked like; None without a CPU point."""
    cpu = [s.cpu_percent for s in samples if s.cpu_percent is not None]
    if not cpu:
        return None
    nets = [
        (s.network_in_bytes or 0.0) + (s.network_out_bytes or 0.0)
        for s in samples
        if s.network_in_bytes is not None or s.network_out_bytes is not None
    ]
    return Activity(
        cpu_p50=statistics.median(cpu),
        cpu_max=max(cpu),
        net_mean=statistics.fmean(nets) if nets else None,
        quiet_for_s=quiet_for_s,
    )


def next_tier(
    policy: PollingPolicy,
    tier: str,
    quiet_since: datetime | None,
    samples: Sequence[Sample],
    now: datetime,
) -> tuple[str, datetime | None]:
    """An instance's tier and quiet start after a poll returned ``samples`` (time order).

    The last hour of points decides the tier. The quiet run is followed hour by hour,
    so a backfill of days finds an instance that has been quiet for long at once. A
    poll without any CPU point keeps the tier (a new instance is polled as a suspect).
    """
    last = hour_activity(samples[-12:])
    if last is None:
        return ("suspect" if tier == "new" else tier), quiet_since
    since = quiet_since
    for end in range(len(samples), 0, -12):  # walk back over the poll's hours
        hour = samples[max(0, end - 12) : end]
        activity = hour_activity(hour)
        if activity is None:
            continue
        if not policy.is_quiet(activity):
            since = None if end == len(samples) else hour[-1].timestamp
            break
        since = quiet_since or hour[0].timestamp
    activity = Activity(
        last.cpu_p50,
        last.cpu_max,
        last.net_mean,
        (now - since).total_seconds() if since is not None else 0.0,
    )
    new_tier = policy.classify(tier, activity)
    return new_tier, (since if new_tier in QUIET_TIERS else None)


POLICIES: dict[str, PollingPolicy] = {
    p.name: p
    for p in (
        FixedPolicy("naive", 300),
        FixedPolicy("hourly", 3600),
        AdaptivePolicy("adaptive"),
        AdaptivePolicy("adaptive-lean", busy_s=2 * 3600, serving_s=3 * 3600, suspect_s=2700),
    )
}


def get_policy(name: str) -> PollingPolicy:
    """The named policy; a ValueError lists the known ones."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"no polling policy {name!r} (known: {', '.join(POLICIES)})") from None
