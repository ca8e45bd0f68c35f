"""Python helpers for the sandbox's control endpoints (``/_sandbox/...``), for tests and tools.

Faults (see :mod:`sandbox.faults` for the rule fields)::

    set_faults(url, throttle_rate=0.3, operations=["GetMetricData"], seed=1)
    set_faults(url, rules=[{"fail_regions": ["eu-west-1"]}, {"latency_ms": 50}])
    clear_faults(url)

Call counts, the clock, readiness::

    calls(url)                 # [{"account", "service", "operation", "count", "faulted", "metrics"}]
    call_count(url, service="ce", operation="GetCostAndUsage", account="111111111111")
    advance_clock(url, 3600)   # live points for the next hour appear at once
    wait_ready(url, timeout=60)
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from spendsense.errors import ServiceError


def _call(method: str, url: str, payload: object = None, timeout: float = 10.0) -> Any:
    response = httpx.request(method, url, json=payload, timeout=timeout)
    if response.status_code >= 400:
        raise ServiceError(
            f"sandbox {method} {url} answered {response.status_code}: {response.text}"
        )
    return response.json()


def health(endpoint_url: str) -> dict[str, Any]:
    """The sandbox's health document (``status`` is ``ready`` once seeded)."""
    result: dict[str, Any] = _call("GET", f"{endpoint_url}/_sandbox/health")
    return result


def wait_ready(endpoint_url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /_sandbox/health`` until ready; raises ServiceError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return health(endpoint_url)
        except (httpx.HTTPError, ServiceError):
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the sandbox at {endpoint_url} was not ready within {timeout:.0f} s"
                ) from None
            time.sleep(0.2)


def set_faults(
    endpoint_url: str, rules: list[dict[str, Any]] | None = None, **rule: Any
) -> dict[str, Any]:
    """Replace the fault plan with ``rules`` (or one rule given as keywords)."""
    result: dict[str, Any] = _call(
        "POST", f"{endpoint_url}/_sandbox/faults", {"rules": rules or [rule]}
    )
    return result


def clear_faults(endpoint_url: str) -> None:
    """Remove every fault rule."""
    _call("DELETE", f"{endpoint_url}/_sandbox/faults")


def faults(endpoint_url: str) -> dict[str, Any]:
    """The rules in force and how many faults each injected."""
    result: dict[str, Any] = _call("GET", f"{endpoint_url}/_sandbox/faults")
    return result


def calls(endpoint_url: str) -> list[dict[str, Any]]:
    """Call counts by account, service (signing name) and operation."""
    rows: list[dict[str, Any]] = _call("GET", f"{endpoint_url}/_sandbox/calls")["calls"]
    return rows


def call_count(endpoint_url: str, service: str, operation: str, account: str | None = None) -> int:
    """How many ``service`` ``operation`` calls the sandbox received (from ``account``)."""
    return sum(
        r["count"]
        for r in calls(endpoint_url)
        if r["service"] == service
        and r["operation"] == operation
        and account in (None, r["account"])
    )


def reset_calls(endpoint_url: str) -> None:
    """Zero the call counters."""
    _call("DELETE", f"{endpoint_url}/_sandbox/calls")


def clock(endpoint_url: str) -> dict[str, float]:
    """``start``, ``now`` and ``speed`` of the sandbox clock (epoch seconds)."""
    result: dict[str, float] = _call("GET", f"{endpoint_url}/_sandbox/clock")
    return result


def advance_clock(endpoint_url: str, seconds: float) -> dict[str, float]:
    """Move the sandbox clock forward by ``seconds``; returns the new clock state."""
    result: dict[str, float] = _call(
        "POST", f"{endpoint_url}/_sandbox/clock", {"advance_s": seconds}
    )
    return result


def account_credentials(endpoint_url: str, account_id: str) -> tuple[str, str]:
    """The ``admin`` user's key in ``account_id`` (created when the account is new)."""
    data = _call("POST", f"{endpoint_url}/_sandbox/accounts", {"account_id": account_id})
    return data["access_key_id"], data["secret_access_key"]


def fleet_labels(endpoint_url: str) -> dict[str, float | None]:
    """The fleet's ground truth in sandbox time: ``{instance_id: idle_since epoch or None}``."""
    labels: dict[str, float | None] = _call("GET", f"{endpoint_url}/_sandbox/fleet")["labels"]
    return labels


def fleet_shift(endpoint_url: str) -> float:
    """Seconds the sandbox adds to the fleet's timestamps (sandbox time = fleet time + shift)."""
    shift: float = _call("GET", f"{endpoint_url}/_sandbox/fleet")["shift_s"]
    return shift
