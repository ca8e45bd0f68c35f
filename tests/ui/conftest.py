"""Browser tests: Debian's chromium driven by Playwright for Python (no downloaded browser)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spendsense.settings import ROOT
from tests.api.conftest import mailed_link, sandbox_app

__all__ = ["sandbox_app"]  # the API suite's fixture, shared with the browser tests

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
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
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is missing: run `make sysdeps` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


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
