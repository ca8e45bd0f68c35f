"""The chaos schedule, drawn from a seed: which process is killed when, when the broker restarts.

>>> plan = make_plan(seed=7, duration_s=600)
>>> len(plan.kills) >= 10, {k.target for k in plan.kills} == set(KILL_TARGETS)
(True, True)
>>> plan == make_plan(seed=7, duration_s=600)
True
>>> all(a.at_s < b.at_s for a, b in zip(plan.kills, plan.kills[1:]))
True
>>> 0 < plan.broker_restart_s < 600
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# The pipeline processes a chaos run kills with SIGKILL (names from devstack.stack).
KILL_TARGETS = ("collector", "detector", "model", "actions")
MIN_KILLS = 10


@dataclass(frozen=True)
class Kill:
    """SIGKILL ``target`` at ``at_s`` seconds into the run."""

    at_s: float
    target: str


@dataclass(frozen=True)
class ChaosPlan:
    """What the driver does, and the AWS faults the sandbox injects for the whole run."""

    seed: int
    duration_s: float
    kills: tuple[Kill, ...]
    broker_restart_s: float
    aws_faults: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line per planned event, in time order."""
        events = [(k.at_s, f"SIGKILL {k.target}") for k in self.kills]
        events.append((self.broker_restart_s, "restart the Kafka broker"))
        return "\n".join(f"  t+{at:6.1f}s  {what}" for at, what in sorted(events))


def make_plan(seed: int, duration_s: float, kills: int | None = None) -> ChaosPlan:
    """A schedule over ``duration_s``: at least ``MIN_KILLS`` kills, every target at least once.

    Kills fall in the first 80% of the run (the rest lets the last restart recover and
    settle), one per equal slot, jittered within its middle third: two kills are never
    closer than a third of a slot (about 3 s in a 2-minute run).
    """
    rng = random.Random(seed)
    count = max(kills or 0, MIN_KILLS, int(duration_s / 40))
    window = duration_s * 0.8
    targets = list(KILL_TARGETS) + [
        rng.choice(KILL_TARGETS) for _ in range(count - len(KILL_TARGETS))
    ]
    rng.shuffle(targets)
    gap = window / (count + 1)
    times = [gap * (i + 1) + rng.uniform(-gap / 3, gap / 3) for i in range(count)]
    plan_kills = tuple(Kill(round(t, 1), target) for t, target in zip(times, targets, strict=True))
    broker_restart = round(rng.uniform(0.3, 0.6) * duration_s, 1)
    faults = (
        {
            "seed": seed,
            "throttle_rate": 0.15,
            "error_rate": 0.05,
            "services": ["ec2", "monitoring", "ses", "sts"],
        },
    )
    return ChaosPlan(seed, duration_s, plan_kills, broker_restart, faults)
