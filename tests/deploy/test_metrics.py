"""Every Grafana panel's query returns data from a real Prometheus scraping the processes.

The processes are the ones ``stack_targets`` gives (see conftest.py): by default those this
suite starts itself (collector on the sandbox account, projector, API, node-exporter); with
SPENDSENSE_DASHBOARD_TARGETS, a running stack such as ``spendsense demo``. A panel marked
``Event-driven`` may be empty when nothing happened yet, but its metrics must be exposed.
"""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from spendsense.settings import Settings
from tests.fixtures.prometheus import (
    Prometheus,
    check_dashboards,
    dashboard_panels,
    job_of,
    metric_names,
    prometheus_binary,
    targets_from_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def _drive_the_api(api_url: str) -> None:
    """A few requests (one a refused login) so the API's request and login metrics have series."""
    with httpx.Client(base_url=api_url, timeout=10) as client:
        for path in ("/healthz", "/readyz", "/api/me"):
            client.get(path)
        token = client.get("/api/auth/csrf").json()["csrf_token"]
        refused = client.post(
            "/api/auth/login",
            json={"email": "nobody@example.com", "password": "wrong-password-1"},
            headers={"X-CSRF-Token": token},
        )
        assert refused.status_code in {400, 401, 403}, refused.text


def _wait_for(prometheus: Prometheus, expr: str, what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if prometheus.query(expr):
            return
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout_s:.0f}s ({expr})")


def test_every_panel_query_uses_a_job_prometheus_scrapes() -> None:
    jobs = {"collector", "detector", "model", "actions", "api", "projector", "node"}
    for _, panel in dashboard_panels():
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, panel["title"]
            assert {job_of(n) for n in names} - {None} <= jobs, panel["title"]


def test_committed_dashboards_are_what_build_dashboards_writes() -> None:
    build = runpy.run_path(str(ROOT / "deploy/grafana/build_dashboards.py"))
    for uid, (title, panels) in build["DASHBOARDS"].items():
        committed = json.loads((ROOT / f"deploy/grafana/dashboards/{uid}.json").read_text())
        assert committed == build["dashboard_json"](uid, title, panels), (
            f"{uid}.json is stale: run python deploy/grafana/build_dashboards.py"
        )


def test_prometheus_configs_pass_promtool() -> None:
    promtool = Path(prometheus_binary()).with_name("promtool")
    for name in ("prometheus.yml", "prometheus.local.yml"):
        path = ROOT / "deploy/prometheus" / name
        result = subprocess.run(
            [str(promtool), "check", "config", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_local_prometheus_config_scrapes_the_default_ports() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.local.yml").read_text())
    committed = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    expected = targets_from_settings(Settings(_env_file=None), node_exporter="127.0.0.1:9100")
    assert committed == {"prometheus": ["127.0.0.1:9090"], **expected}


def _defined_metric_names() -> set[str]:
    """Every ``"spendsense_..."`` string literal in the packages (where metrics are defined)."""
    names: set[str] = set()
    for package in ("spendsense", "ingest", "detector", "actions", "api", "projector"):
        for path in (ROOT / package).rglob("*.py"):
            names.update(re.findall(r"[\"'](spendsense_[a-z0-9_]+)[\"']", path.read_text()))
    return names


def test_every_spendsense_metric_on_a_dashboard_is_defined_in_the_tree() -> None:
    defined = _defined_metric_names()
    for _, panel in dashboard_panels():
        for name in metric_names(panel["targets"][0]["expr"]):
            if not name.startswith("spendsense_"):
                continue
            family = re.sub(r"_(bucket|count|sum)$", "", name)
            assert family in defined, f"{panel['title']}: {name} is defined nowhere"


def test_every_dashboard_panel_returns_data(
    stack_targets: Any,  # tests/deploy/conftest.py Stack
    prometheus_for: Callable[[Mapping[str, Sequence[str]]], Prometheus],
) -> None:
    if stack_targets.api_url:
        _drive_the_api(stack_targets.api_url)
    prometheus = prometheus_for(stack_targets.targets)
    prometheus.wait_until_scraped(["prometheus", *stack_targets.targets])
    if "collector" in stack_targets.targets:
        _wait_for(prometheus, "spendsense_aws_calls_total", "AWS call by the collector")
    if "detector" in stack_targets.targets:
        _wait_for(prometheus, "sum(spendsense_model_records_scored_total) > 0", "a scored batch")
    time.sleep(2)  # two scrapes after the last counters moved, so rate() has data
    assert not prometheus.exposed("spendsense_api_no_such_metric_total")
    checks = check_dashboards(prometheus, list(stack_targets.targets))
    failed = [c for c in checks if not c.ok]
    summary = "\n".join(
        f"{'ok ' if c.ok else 'BAD'} {c.dashboard} / {c.title}: {c.series} series"
        + (f", metrics not exposed: {', '.join(c.missing_metrics)}" if c.missing_metrics else "")
        for c in checks
    )
    print(f"\n{len(checks)} panels checked against {sorted(stack_targets.targets)}\n{summary}")
    assert not failed, summary
    covered = {job for c in checks for job in c.jobs}
    assert covered == set(stack_targets.targets) - {"prometheus"}, covered
    with_data = [c for c in checks if c.series]
    assert len(with_data) >= len(checks) // 2, summary
