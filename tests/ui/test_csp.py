"""The dashboard under the shipped nginx's Content-Security-Policy, in headless Chromium
(security issue 13, item 6): every page of a signed-up member loads over HTTPS through
deploy/nginx/spendsense.conf without one CSP violation."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox
from tests.fixtures.served import served_api, served_nginx
from tests.ui.conftest import browser_sign_up

pytestmark = [pytest.mark.browser]

PAGES = ("/", "/settings", "/monitoring")


def test_the_dashboard_passes_the_content_security_policy(
    tmp_path: Path,
    postgres_server: PostgresServer,
    sandbox: Sandbox,
    browser: Any,
    ui_assets: Path,
) -> None:
    # cookies Secure as compose sets them; account mail through the sandbox's SES
    secure = {"SPENDSENSE_API__COOKIE_SECURE": "true"} | sandbox.aws_environment()
    with (
        served_api(tmp_path, postgres_server.create_database(), secure) as api,
        served_nginx(tmp_path / "nginx", api.url) as nginx,
    ):
        # the certificate is self-signed: Chromium is told to accept it, nothing else
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        violations: list[str] = []
        page.expose_binding("reportViolation", lambda _source, text: violations.append(text))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.reportViolation(e.violatedDirective + ' ' + e.blockedURI));"
        )

        page.goto(f"{nginx.http_url}/signup")  # plain HTTP: redirected
        assert page.url == f"{nginx.url}/signup"
        # the sign-up form, the mailed link's confirm page, then the dashboard
        email = f"csp{uuid.uuid4().hex[:8]}@example.com"
        browser_sign_up(page, nginx.url, sandbox.endpoint_url, email)
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies and all(c["secure"] for c in cookies.values()), cookies
        for path in PAGES:
            page.goto(f"{nginx.url}{path}")
            page.wait_for_load_state("load")
            page.wait_for_timeout(1500)  # the page's fetches, charts and live feed
        page.goto(f"{nginx.url}/login")
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        context.close()
    assert not [m for m in console if "Content Security Policy" in m], console
    assert not violations, violations
    assert not [m for m in console if m.startswith("pageerror")], console
