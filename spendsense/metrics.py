"""Prometheus helpers shared by every process.

Names follow client_python's conventions: ``spendsense_<subsystem>_<name>_<unit>``,
counters end in ``_total``, labels are declared up front, tenant may be a label but an
instance id never is. Every component takes its :class:`CollectorRegistry` as a
parameter so tests use a fresh one.

>>> reg = CollectorRegistry()
>>> c = Counter("spendsense_demo_things_total", "Things.", ["tenant"], registry=reg)
>>> c.labels(tenant="t1").inc()
>>> reg.get_sample_value("spendsense_demo_things_total", {"tenant": "t1"})
1.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["CollectorRegistry", "Counter", "Gauge", "Histogram", "serve_metrics"]


def serve_metrics(registry: CollectorRegistry, port: int, host: str | None = None) -> None:
    """Expose ``registry`` at ``http://host:port/metrics`` from a background thread.

    ``host`` defaults to the ``metrics_host`` setting (127.0.0.1; ``0.0.0.0`` in containers,
    so Prometheus can scrape across the compose network).
    """
    if host is None:
        from spendsense.settings import get_settings

        host = get_settings().metrics_host
    start_http_server(port, addr=host, registry=registry)
