"""The dashboard and the monitoring page through the shipped nginx (deploy/nginx), in
headless Chromium: Grafana at /grafana/ (a stand-in: Grafana has no source here) and
Debian's Prometheus at /prometheus/, started with compose's own --web.* flags, answer an
operator's session, refuse a customer's (their metrics name every tenant) and send anyone
not logged in to the log-in page, which leads back there; the monitoring page's links open
them for the operator only, and its pipeline health comes from that Prometheus."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.compose import compose_service
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.prometheus import Prometheus, start_prometheus, stop_prometheus
from tests.fixtures.sandbox import Sandbox
from tests.fixtures.served import served_api, served_nginx
from tests.ui.conftest import browser_sign_up

pytestmark = [pytest.mark.browser]

STAND_IN_TITLE = "Grafana stand-in"
PASSWORD = "a long enough password"  # browser_sign_up's


class GrafanaStandIn(BaseHTTPRequestHandler):
    """Answers under /grafana/ as Grafana does with GF_SERVER_SERVE_FROM_SUB_PATH (the
    whole URI reaches it); records every path it was asked."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        found = self.path.startswith("/grafana/")
        body = f"<!doctype html><title>{STAND_IN_TITLE}</title><h1>{self.path}</h1>".encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads :attr:`seen`."""


@pytest.fixture
def grafana() -> Iterator[tuple[str, list[str]]]:
    """The stand-in's address (host:port) and the paths it was asked for."""
    seen: list[str] = []
    handler = type("Handler", (GrafanaStandIn,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    """Debian's Prometheus with the compose service's --web.* flags (the sub-path)."""
    web_flags = [f for f in compose_service("prometheus")["command"] if f.startswith("--web.")]
    assert "--web.external-url=/prometheus/" in web_flags, web_flags
    server = start_prometheus({}, tmp_path / "prometheus", flags=web_flags)
    yield server
    stop_prometheus(server)


def log_in(page: Any, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")


def test_monitoring_routes_through_nginx_behind_the_login(
    tmp_path: Path,
    postgres_server: PostgresServer,
    sandbox: Sandbox,
    browser: Any,
    ui_assets: Path,
    artifacts: Path,
    grafana: tuple[str, list[str]],
    prometheus: Prometheus,
) -> None:
    grafana_address, grafana_seen = grafana
    email = f"ngx{uuid.uuid4().hex[:8]}@example.com"
    settings = {
        "SPENDSENSE_API__COOKIE_SECURE": "true",
        "SPENDSENSE_API__PROMETHEUS_URL": prometheus.url,
        "SPENDSENSE_API__OPERATOR_EMAILS": f'["{email}"]',
        **sandbox.aws_environment(),
    }
    upstreams = {"grafana": grafana_address, "prometheus": prometheus.url.removeprefix("http://")}
    with (
        served_api(tmp_path, postgres_server.create_database(), settings) as api,
        served_nginx(tmp_path / "nginx", api.url, upstreams) as nginx,
    ):
        base = nginx.url
        context = browser.new_context(ignore_https_errors=True)  # a self-signed certificate
        page = context.new_page()

        # nobody logged in: both routes send the browser to the log-in page, nothing leaks
        for path in ("/grafana/", "/prometheus/"):
            page.goto(f"{base}{path}")
            assert page.url == f"{base}/login?next={path}", page.url
        assert grafana_seen == []

        browser_sign_up(page, base, sandbox.endpoint_url, email)
        page.wait_for_selector("#stat-mtd")  # the dashboard, through nginx

        page.goto(f"{base}/monitoring")
        page.wait_for_selector("#consumer-lag li")
        assert page.is_hidden("#pipeline-unreachable")
        assert page.get_attribute("#grafana-link", "href") == "/grafana/"
        assert page.get_attribute("#prometheus-link", "href") == "/prometheus/"
        page.screenshot(path=str(artifacts / "ui-monitoring-nginx.png"), full_page=True)

        with context.expect_page() as opened:
            page.click("#grafana-link")
        tab = opened.value
        tab.wait_for_load_state()
        assert tab.url == f"{base}/grafana/" and tab.title() == STAND_IN_TITLE
        assert grafana_seen == ["/grafana/"]  # the whole URI, as Grafana's sub-path needs
        tab.close()

        with context.expect_page() as opened:
            page.click("#prometheus-link")
        tab = opened.value
        tab.wait_for_load_state("load")
        # Prometheus's own redirect and every asset of its page came through the sub-path
        assert tab.url.startswith(f"{base}/prometheus/"), tab.url
        assert "Prometheus" in tab.title()
        assert tab.evaluate("typeof jQuery") == "function"
        tab.screenshot(path=str(artifacts / "ui-prometheus-nginx.png"))
        tab.close()
        up = page.request.get(f"{base}/prometheus/api/v1/query?query=up").json()
        assert up["status"] == "success", up

        # logged out: refused again, and logging in leads back to where the browser was going
        csrf = {c["name"]: c["value"] for c in context.cookies()}["spendsense_csrf"]
        page.request.post(f"{base}/api/auth/logout", headers={"X-CSRF-Token": csrf})
        page.goto(f"{base}/grafana/d/pipeline?orgId=1")
        assert page.url == f"{base}/login?next=/grafana/d/pipeline?orgId=1", page.url
        log_in(page, email)
        page.wait_for_url(f"{base}/grafana/d/pipeline?orgId=1")
        assert page.title() == STAND_IN_TITLE
        context.close()

        # a customer: the page has no links, and nginx refuses both routes
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        customer = f"cust{uuid.uuid4().hex[:8]}@example.com"
        browser_sign_up(page, base, sandbox.endpoint_url, customer)
        page.goto(f"{base}/monitoring")
        page.wait_for_selector("#consumer-lag li")
        assert page.is_hidden("#grafana-link") and page.is_hidden("#prometheus-link")
        for path in ("/grafana/", "/prometheus/"):
            assert page.goto(f"{base}{path}").status == 403, path
        context.close()
    assert grafana_seen == ["/grafana/", "/grafana/d/pipeline?orgId=1"]
    logs = (tmp_path / "nginx" / "error.log").read_text()
    assert "[emerg]" not in logs, logs[-2000:]
