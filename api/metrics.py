"""The API's Prometheus metrics and the middleware that times every request by route template.

>>> reg = CollectorRegistry()
>>> m = ApiMetrics(reg)
>>> m.observe("GET", "/api/instances/{instance_id}", 200, 0.004)
>>> reg.get_sample_value("spendsense_api_request_duration_seconds_count",
...     {"method": "GET", "route": "/api/instances/{instance_id}", "status": "200"})
1.0
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spendsense.metrics import CollectorRegistry, Counter, Gauge, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """Request latency by route template, log-ins, stops and live-feed subscribers."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.request_duration = Histogram(
            "spendsense_api_request_duration_seconds",
            "API request latency by route template.",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.logins = Counter(
            "spendsense_api_logins_total",
            "Log-in attempts by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.user_actions = Counter(
            "spendsense_api_user_actions_total",
            "Stop, start and not-idle requests made through the API, by tenant and result.",
            ["tenant", "action", "result"],
            registry=registry,
        )
        self.feed_subscribers = Gauge(
            "spendsense_api_feed_subscribers",
            "Open live-feed (Server-Sent Events) connections.",
            registry=registry,
        )
        self.feed_events = Counter(
            "spendsense_api_feed_events_total",
            "Records the live feed read from Kafka, by topic.",
            ["topic"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.request_duration.labels(method=method, route=route, status=str(status)).observe(
            seconds
        )


class TimingMiddleware:
    """Pure ASGI middleware: one histogram observation per HTTP request, labelled by template.

    Unmatched paths are labelled ``unmatched`` so scanners cannot blow up label cardinality.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)
