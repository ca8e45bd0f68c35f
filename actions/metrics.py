"""The actions worker's Prometheus metrics (served on ``actions.metrics_port``, 9303).

>>> m = ActionsMetrics(CollectorRegistry())
>>> m.alerts_suppressed.labels(tenant="acme", reason="cooldown").inc()
>>> m.registry.get_sample_value(
...     "spendsense_actions_alerts_suppressed_total", {"tenant": "acme", "reason": "cooldown"})
1.0
"""

from __future__ import annotations

from spendsense.metrics import CollectorRegistry, Counter


class ActionsMetrics:
    """Alerts sent and suppressed, stops by outcome, SES errors by code; tenant as a label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.alerts_sent = Counter(
            "spendsense_actions_alerts_sent_total",
            "Alert emails SES accepted.",
            ["tenant"],
            registry=registry,
        )
        self.alerts_suppressed = Counter(
            "spendsense_actions_alerts_suppressed_total",
            "Newly idle instances not emailed now, by why: cooldown (held for the next digest), not-idle (a person said so).",
            ["tenant", "reason"],
            registry=registry,
        )
        self.emails_failed = Counter(
            "spendsense_actions_emails_failed_total",
            "Alert emails that ended failed (SES refused) or unknown (worker died mid-send).",
            ["tenant", "status"],
            registry=registry,
        )
        self.ses_errors = Counter(
            "spendsense_actions_ses_errors_total",
            "SES errors by error code.",
            ["tenant", "code"],
            registry=registry,
        )
        self.stops = Counter(
            "spendsense_actions_stops_total",
            "Stop and start requests by outcome (stopped, dry-run, refused, skipped, ...).",
            ["tenant", "action", "outcome"],
            registry=registry,
        )
        self.records = Counter(
            "spendsense_actions_records_total",
            "Detection records consumed, by outcome (ok, poison, unknown-tenant).",
            ["outcome"],
            registry=registry,
        )
        self.publish_errors = Counter(
            "spendsense_actions_publish_errors_total",
            "Records the broker did not take (the audit log still has them), by topic.",
            ["topic"],
            registry=registry,
        )
