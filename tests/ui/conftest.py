"""Browser tests: Debian's chromium driven by Playwright for Python (no downloaded browser)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bench.chromium import launch as launch_chromium
from bench.chromium import missing as chromium_missing
from spendsense.settings import ROOT
from tests.api.conftest import User, live_api, mailed_link, sandbox_app

__all__ = ["sandbox_app"]  # the API suite's fixture, shared with the browser tests

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def ui_assets() -> Path:
    """The built dashboard assets (``make ui``; built here when missing or stale)."""
    subprocess.run(["bash", str(ROOT / "deploy" / "scripts" / "build-ui.sh")], check=True)
    dist = ROOT / "ui" / "dist"
    assert (dist / "app.css").exists() and (dist / "chart.umd.min.js").exists()
    return dist


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    problem = chromium_missing()
    if problem:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@contextmanager
def logged_in_page(app: Any, browser: Any, user: User) -> Iterator[tuple[Any, str]]:
    """A page logged in as ``user`` (their cookies) on ``app`` served live, and its base
    URL; the page must raise no script error."""
    with live_api(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies(
            [{"name": k, "value": v, "url": base} for k, v in user.client.cookies.items()]
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page, base
        finally:
            context.close()
        assert errors == []


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def browser_sign_up(
    page: Any, base: str, mail_endpoint: str, email: str, organisation: str = "Acme"
) -> None:
    """Sign up in the browser as a person does: the form ("check your e-mail"), the link
    mailed through the sandbox's SES, its confirm button; the page ends on the dashboard."""
    page.goto(f"{base}/signup")
    page.fill("#organisation", organisation)
    page.fill("#email", email)
    page.fill("#password", "a long enough password")
    page.click("button[type=submit]")
    page.wait_for_selector("#form-ok:has-text('check your e-mail')")
    page.goto(base + mailed_link(mail_endpoint, email))
    page.click("#confirm")
    page.wait_for_url(f"{base}/")


AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core, an npm devDependency of ui/ (``make ui`` installs it)."""

AXE_RUN = """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
  .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }))"""


def accessibility_violations(
    page: Any, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[str]:
    """axe-core's violations of ``impacts`` on the page as it is now, one line each. The
    script goes in through the DevTools protocol, so the page's own CSP does not stop it."""
    assert AXE.exists(), f"{AXE} is missing: run `make ui` (npm ci in ui/)"
    page.evaluate(AXE.read_text())
    found = page.evaluate(AXE_RUN)
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {'; '.join(v['nodes'])}"
        for v in found
        if v["impact"] in impacts
    ]
