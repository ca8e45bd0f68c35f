"""Prometheus's HTTP API as the API reads it, server side: instant queries, one vector each.

The address is ``api.prometheus_url`` (``http://prometheus:9090`` in compose); a browser
never talks to it through this module (nginx serves Prometheus's own pages at
``/prometheus/``, behind the log-in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from spendsense.errors import ServiceError


def label_value(value: str) -> str:
    """``value`` as a quoted PromQL label value (quotes and backslashes escaped).

    >>> print(label_value('acme"} or vector(1) #'))
    "acme\\"} or vector(1) #"
    """
    return json.dumps(value)


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float


def parse_vector(body: Any) -> list[Sample]:
    """The samples of a ``/api/v1/query`` answer whose result is a vector.

    >>> parse_vector({"status": "success", "data": {"resultType": "vector",
    ...     "result": [{"metric": {"job": "api"}, "value": [1.5, "1"]}]}})
    [Sample(labels={'job': 'api'}, value=1.0)]
    """
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", body) if isinstance(body, dict) else body
        raise ServiceError(f"Prometheus refused the query: {error}")
    data = body["data"]
    if data.get("resultType") != "vector":
        raise ServiceError(f"Prometheus answered a {data.get('resultType')}, not a vector")
    return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]


class PrometheusQueries:
    """Instant queries against one Prometheus server, each failing with one line."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client = client
        self.url = url.rstrip("/")

    def vector(self, expr: str) -> list[Sample]:
        """Run ``expr`` now; :class:`ServiceError` when Prometheus cannot answer it."""
        try:
            response = self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceError(f"Prometheus at {self.url} does not answer: {exc}") from None
        return parse_vector(body)

    def value(self, expr: str) -> float | None:
        """The first sample's value of ``expr`` (``None``: no series)."""
        samples = self.vector(expr)
        return samples[0].value if samples else None
