"""Fault injection for other components' tests: throttling, server errors, latency, dead regions.

A :class:`FaultRule` targets calls by service (signing name: ``ec2``, ``monitoring``,
``ce``, ``sts``, ``ses``...), operation, account and region (empty: all); each matching
call is delayed by ``latency_ms`` and then, drawn from the rule's own seeded RNG,
throttled with probability ``throttle_rate`` or failed with ``error_rate`` (HTTP 500)
or ``unavailable_rate`` (HTTP 503). Every call in ``fail_regions`` fails with 503.
``max_faults`` caps how many calls the rule fails (then it only adds latency). The
errors are the codes each service really sends, so botocore retries them as it would.

>>> rule = FaultRule(throttle_rate=1.0, operations=["GetMetricData"])
>>> plan = FaultPlan([rule])
>>> plan.decide("monitoring", "GetMetricData", "111111111111", "us-east-1")[1].code
'Throttling'
>>> plan.decide("ec2", "DescribeInstances", "111111111111", "us-east-1")[1] is None
True
>>> FaultPlan([FaultRule(fail_regions=["eu-west-1"])]).decide(
...     "ec2", "DescribeInstances", "1", "eu-west-1")[1].status
503
"""

from __future__ import annotations

import random
import threading
from typing import Any

from pydantic import BaseModel, Field

from sandbox.wire import ApiError

# (code, status, message) per service signing name; "*" for the rest.
_THROTTLE = {
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "monitoring": ("Throttling", 400, "Rate exceeded"),
    "ce": ("LimitExceededException", 400, "You have exceeded the rate limit."),
    "sts": ("Throttling", 400, "Rate exceeded"),
    "ses": ("Throttling", 400, "Maximum sending rate exceeded."),
    "iam": ("Throttling", 400, "Rate exceeded"),
    "*": ("ThrottlingException", 400, "Rate exceeded"),
}
_ERROR = {"ec2": ("InternalError", 500), "*": ("InternalFailure", 500)}
_UNAVAILABLE = {"ec2": ("Unavailable", 503), "*": ("ServiceUnavailable", 503)}


class FaultRule(BaseModel):
    """One fault rule as posted to ``POST /_sandbox/faults``."""

    model_config = {"extra": "forbid"}

    seed: int = 0
    throttle_rate: float = Field(0.0, ge=0, le=1)
    error_rate: float = Field(0.0, ge=0, le=1)
    unavailable_rate: float = Field(0.0, ge=0, le=1)
    latency_ms: float = Field(0.0, ge=0, le=60_000)
    fail_regions: list[str] = []
    services: list[str] = []
    operations: list[str] = []
    accounts: list[str] = []
    regions: list[str] = []
    max_faults: int | None = Field(None, ge=0)

    def targets(self, service: str, operation: str, account: str, region: str) -> bool:
        """Whether a call falls under this rule."""
        return all(
            not wanted or value in wanted
            for wanted, value in (
                (self.services, service),
                (self.operations, operation),
                (self.accounts, account),
                (self.regions, region),
            )
        )


def throttle_error(service: str) -> ApiError:
    """The throttling error ``service`` answers with."""
    code, status, message = _THROTTLE.get(service, _THROTTLE["*"])
    return ApiError(code, message, status)


def _server_error(table: dict[str, tuple[str, int]], service: str) -> ApiError:
    code, status = table.get(service, table["*"])
    return ApiError(
        code, "We encountered an internal error. Please try again.", status, sender=False
    )


class FaultPlan:
    """The rules in force, each with its own seeded RNG and count of faults injected."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self.rules = list(rules or [])
        self._rngs = [random.Random(r.seed) for r in self.rules]
        self.injected = [0] * len(self.rules)
        self._lock = threading.Lock()

    def decide(
        self, service: str, operation: str, account: str, region: str
    ) -> tuple[float, ApiError | None]:
        """``(seconds to delay, error to answer or None)`` for one call."""
        delay = 0.0
        with self._lock:
            for n, rule in enumerate(self.rules):
                if not rule.targets(service, operation, account, region):
                    continue
                delay += rule.latency_ms / 1000
                error = self._draw(n, rule, service, region)
                if error is not None:
                    self.injected[n] += 1
                    return delay, error
        return delay, None

    def _draw(self, n: int, rule: FaultRule, service: str, region: str) -> ApiError | None:
        if rule.max_faults is not None and self.injected[n] >= rule.max_faults:
            return None
        if region in rule.fail_regions:
            return _server_error(_UNAVAILABLE, service)
        roll = self._rngs[n].random()
        if roll < rule.throttle_rate:
            return throttle_error(service)
        roll -= rule.throttle_rate
        if roll < rule.error_rate:
            return _server_error(_ERROR, service)
        roll -= rule.error_rate
        if roll < rule.unavailable_rate:
            return _server_error(_UNAVAILABLE, service)
        return None

    def state(self) -> dict[str, Any]:
        """What ``GET /_sandbox/faults`` shows: the rules and how many faults each injected."""
        with self._lock:
            return {
                "rules": [r.model_dump() for r in self.rules],
                "injected": list(self.injected),
            }
