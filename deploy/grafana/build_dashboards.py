"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from the panels below.

    python deploy/grafana/build_dashboards.py

Every query uses metric names the processes define (tests/deploy checks each one against
a real Prometheus). A panel whose series appear only once something happens (an error, an
alert, a stop) says so in its description, starting with ``Event-driven``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
EVENT = "Event-driven: no series until the first "


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    legend: str = ""
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""


def p95(metric: str, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile(0.95, sum by ({labels}) (rate({metric}_bucket[5m])))"


DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "pipeline": (
        "SpendSense / Pipeline",
        [
            Panel("Processes up", "up", "{{job}}", kind="stat"),
            Panel(
                "Records collected /s",
                "sum by (collector) (rate(spendsense_ingest_records_collected_total[5m]))",
                "{{collector}}",
                "ops",
            ),
            Panel(
                "Records published /s",
                "sum by (topic) (rate(spendsense_ingest_records_published_total[5m]))",
                "{{topic}}",
                "ops",
            ),
            Panel(
                "Metrics lag (newest period collected)",
                "max by (tenant) (spendsense_ingest_metrics_lag_seconds)",
                "{{tenant}}",
                "s",
            ),
            Panel(
                "Account cycle p95",
                p95("spendsense_ingest_account_cycle_seconds"),
                "p95",
                "s",
            ),
            Panel(
                "Detector records consumed /s",
                "sum(rate(spendsense_detector_records_consumed_total[5m]))",
                "consumed",
                "ops",
            ),
            Panel(
                "Detector consumer lag",
                "sum by (partition) (spendsense_detector_consumer_lag_records)",
                "partition {{partition}}",
            ),
            Panel("Detector ready", "spendsense_detector_ready", "ready", kind="stat"),
            Panel(
                "Detections /s by verdict",
                "sum by (verdict) (rate(spendsense_detector_detections_total[5m]))",
                "{{verdict}}",
                "ops",
                description=EVENT + "detection.",
            ),
            Panel(
                "Projector records /s",
                "sum by (topic, outcome) (rate(spendsense_projector_records_total[5m]))",
                "{{topic}} {{outcome}}",
                "ops",
                description=EVENT + "record projected.",
            ),
            Panel(
                "Projector lag",
                "spendsense_projector_batch_lag_seconds",
                "lag",
                "s",
            ),
            Panel(
                "Redeliveries skipped /s",
                "sum(rate(spendsense_detector_duplicates_total[5m]))",
                "duplicates",
                "ops",
            ),
            Panel(
                "Ingest errors /s by kind",
                "sum by (kind) (rate(spendsense_ingest_errors_total[5m]))",
                "{{kind}}",
                "ops",
                description=EVENT + "collector error.",
            ),
            Panel(
                "Detector errors /s by kind",
                "sum by (kind) (rate(spendsense_detector_errors_total[5m]))",
                "{{kind}}",
                "ops",
                description=EVENT + "detector error.",
            ),
            Panel(
                "Dead letters /s by reason",
                "sum by (reason) (rate(spendsense_detector_dead_letters_total[5m]))",
                "{{reason}}",
                "ops",
                description=EVENT + "poison record.",
            ),
        ],
    ),
    "model": (
        "SpendSense / Model",
        [
            Panel(
                "Records scored /s",
                "sum by (endpoint) (rate(spendsense_model_records_scored_total[5m]))",
                "{{endpoint}}",
                "ops",
                description=EVENT + "batch scored.",
            ),
            Panel(
                "Service batch latency p95",
                p95("spendsense_model_batch_latency_seconds", "endpoint"),
                "{{endpoint}}",
                "s",
                description=EVENT + "batch scored.",
            ),
            Panel(
                "Service batch size p95",
                p95("spendsense_model_batch_size_records"),
                "p95",
                "short",
                description=EVENT + "batch scored.",
            ),
            Panel(
                "Worker model call p95",
                p95("spendsense_detector_model_call_seconds"),
                "p95",
                "s",
            ),
            Panel(
                "Worker batch size p95",
                p95("spendsense_detector_batch_size_records"),
                "p95",
            ),
            Panel(
                "Worker batches /s",
                "sum(rate(spendsense_detector_batches_total[5m]))",
                "batches",
                "ops",
            ),
            Panel(
                "Feedback applied /s",
                "sum(rate(spendsense_detector_feedback_applied_total[5m]))",
                "not idle",
                "ops",
            ),
            Panel(
                "Model errors /s by kind",
                "sum by (kind) (rate(spendsense_model_errors_total[5m]))",
                "{{kind}}",
                "ops",
                description=EVENT + "model error.",
            ),
        ],
    ),
    "alerts-actions": (
        "SpendSense / Alerts and actions",
        [
            Panel(
                "Alerts sent /s",
                "sum by (tenant) (rate(spendsense_actions_alerts_sent_total[5m]))",
                "{{tenant}}",
                "ops",
                description=EVENT + "alert email.",
            ),
            Panel(
                "Alerts suppressed /s by reason",
                "sum by (reason) (rate(spendsense_actions_alerts_suppressed_total[5m]))",
                "{{reason}}",
                "ops",
                description=EVENT + "suppressed alert.",
            ),
            Panel(
                "Stops by outcome (1h)",
                "sum by (action, outcome) (increase(spendsense_actions_stops_total[1h]))",
                "{{action}} {{outcome}}",
                description=EVENT + "stop decision.",
            ),
            Panel(
                "Actions worker records /s",
                "sum by (outcome) (rate(spendsense_actions_records_total[5m]))",
                "{{outcome}}",
                "ops",
                description=EVENT + "detection handled.",
            ),
            Panel(
                "Emails failed /s",
                "sum by (status) (rate(spendsense_actions_emails_failed_total[5m]))",
                "{{status}}",
                "ops",
                description=EVENT + "failed email.",
            ),
            Panel(
                "SES errors /s by code",
                "sum by (code) (rate(spendsense_actions_ses_errors_total[5m]))",
                "{{code}}",
                "ops",
                description=EVENT + "SES error.",
            ),
            Panel(
                "Publish errors /s by topic",
                "sum by (topic) (rate(spendsense_actions_publish_errors_total[5m]))",
                "{{topic}}",
                "ops",
                description=EVENT + "record the broker did not take (the audit log keeps it).",
            ),
            Panel(
                "API requests /s by route",
                "sum by (route) (rate(spendsense_api_request_duration_seconds_count[5m]))",
                "{{route}}",
                "reqps",
            ),
            Panel(
                "API latency p95 by route",
                p95("spendsense_api_request_duration_seconds", "route"),
                "{{route}}",
                "s",
            ),
            Panel(
                "Logins /s by outcome",
                "sum by (outcome) (rate(spendsense_api_logins_total[5m]))",
                "{{outcome}}",
                "ops",
                description=EVENT + "login attempt.",
            ),
            Panel(
                "People's actions (1h)",
                "sum by (action, result) (increase(spendsense_api_user_actions_total[1h]))",
                "{{action}} {{result}}",
                description=EVENT + "stop or 'not idle' from the dashboard or an email link.",
            ),
            Panel(
                "Live feed subscribers",
                "sum(spendsense_api_feed_subscribers)",
                "subscribers",
                kind="stat",
            ),
            Panel(
                "Live feed events /s",
                "sum by (topic) (rate(spendsense_api_feed_events_total[5m]))",
                "{{topic}}",
                "ops",
                description=EVENT + "event sent to a browser.",
            ),
        ],
    ),
    "aws-cost": (
        "SpendSense / AWS cost of watching",
        [
            Panel(
                "Estimated AWS API spend, last 24h",
                "sum(increase(spendsense_aws_estimated_spend_dollars_total[24h]))",
                "USD",
                "currencyUSD",
                kind="stat",
            ),
            Panel(
                "Estimated spend /h by tenant",
                "sum by (tenant) (rate(spendsense_aws_estimated_spend_dollars_total[1h])) * 3600",
                "{{tenant}}",
                "currencyUSD",
            ),
            Panel(
                "AWS calls /s by operation",
                "sum by (service, operation) (rate(spendsense_aws_calls_total[5m]))",
                "{{service}} {{operation}}",
                "ops",
            ),
            Panel(
                "CloudWatch metrics requested /h",
                "sum by (tenant) (rate(spendsense_aws_metrics_requested_total[1h])) * 3600",
                "{{tenant}}",
            ),
            Panel(
                "Accounts by status",
                "sum by (status) (spendsense_ingest_account_status)",
                "{{status}}",
                kind="stat",
            ),
        ],
    ),
    "host": (
        "SpendSense / Host",
        [
            Panel(
                "CPU busy",
                '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))',
                "busy",
                "percent",
            ),
            Panel("Load (1m)", "node_load1", "load1"),
            Panel(
                "Memory used",
                "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
                "used",
                "percent",
            ),
            Panel(
                "Disk used by mount",
                "100 * (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)",
                "{{mountpoint}}",
                "percent",
            ),
            Panel(
                "Network received",
                'sum by (device) (rate(node_network_receive_bytes_total{device!="lo"}[5m]))',
                "{{device}}",
                "Bps",
            ),
            Panel(
                "Network sent",
                'sum by (device) (rate(node_network_transmit_bytes_total{device!="lo"}[5m]))',
                "{{device}}",
                "Bps",
            ),
        ],
    ),
}


def panel_json(panel: Panel, panel_id: int) -> dict[str, object]:
    width = 8 if panel.kind == "timeseries" else 4
    per_row = 24 // width
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {
            "h": 8 if panel.kind == "timeseries" else 4,
            "w": width,
            "x": ((panel_id - 1) % per_row) * width,
            "y": ((panel_id - 1) // per_row) * 8,
        },
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": "A",
                "datasource": DATASOURCE,
                "expr": panel.expr,
                "legendFormat": panel.legend,
            }
        ],
    }


def dashboard_json(uid: str, title: str, panels: list[Panel]) -> dict[str, object]:
    return {
        "uid": f"spendsense-{uid}",
        "title": title,
        "tags": ["spendsense"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": [panel_json(p, i) for i, p in enumerate(panels, start=1)],
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        path = OUT / f"{uid}.json"
        path.write_text(json.dumps(dashboard_json(uid, title, panels), indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
