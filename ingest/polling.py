"""Polling policies: how often each instance's metrics are asked for, and which metrics.

GetMetricData is billed per metric requested, whatever the window, and a poll returns
every point since the previous one: polling less often delays a verdict but loses no
data. A policy maps an instance's *tier* (what its latest points looked like) to a
:class:`PollPlan`; after each poll it reclassifies the instance from the points it got.

The adaptive default polls plainly busy instances rarely and for CPU only (a busy CPU
is enough to know the instance works), instances whose CPU sits near its floor often
and for all three metrics (the detector needs the network to tell an idle box from a
quiet server), and instances quiet for a day (already reported) rarely again.

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

from abc import ABC, abstractmethod
from dataclasses import dataclass

ALL_METRICS = ("CPUUtilization", "NetworkIn", "NetworkOut")
STATISTICS = {"CPUUtilization": "Average", "NetworkIn": "Sum", "NetworkOut": "Sum"}
FIELDS = {
    "CPUUtilization": "cpu_percent",
    "NetworkIn": "network_in_bytes",
    "NetworkOut": "network_out_bytes",
}
TIERS = ("new", "busy", "suspect", "dormant")


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


class PollingPolicy(ABC):
    """Maps tiers to poll plans and points to tiers."""

    name: str

    @abstractmethod
    def plan(self, tier: str) -> PollPlan:
        """How to poll an instance in ``tier``."""

    def classify(self, tier: str, activity: Activity) -> str:
        """The tier after a poll; fixed policies keep one tier."""
        return tier


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
    suspect_s: int = 1800
    dormant_s: int = 3 * 3600
    busy_cpu_p50: float = 8.0  # median CPU over the last hour above this: plainly busy
    dormant_after_s: int = 24 * 3600
    busy_metrics: tuple[str, ...] = ("CPUUtilization",)
    dormant_metrics: tuple[str, ...] = ("CPUUtilization", "NetworkIn")

    def plan(self, tier: str) -> PollPlan:
        if tier == "busy":
            return PollPlan(self.busy_s, self.busy_metrics)
        if tier == "dormant":
            return PollPlan(self.dormant_s, self.dormant_metrics)
        if tier == "suspect":
            return PollPlan(self.suspect_s, ALL_METRICS)
        return PollPlan(0, ALL_METRICS)

    def classify(self, tier: str, activity: Activity) -> str:
        if activity.cpu_p50 is None:
            return tier
        if activity.cpu_p50 >= self.busy_cpu_p50:
            return "busy"
        if activity.quiet_for_s >= self.dormant_after_s:
            return "dormant"
        return "suspect"


POLICIES: dict[str, PollingPolicy] = {
    p.name: p
    for p in (
        FixedPolicy("naive", 300),
        FixedPolicy("hourly", 3600),
        AdaptivePolicy("adaptive"),
        AdaptivePolicy("adaptive-lean", busy_s=3 * 3600, suspect_s=2700, dormant_s=6 * 3600),
    )
}


def get_policy(name: str) -> PollingPolicy:
    """The named policy; a ValueError lists the known ones."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"no polling policy {name!r} (known: {', '.join(POLICIES)})") from None
