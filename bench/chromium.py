"""Debian's Chromium, headless, driven by Playwright for Python (no downloaded browser):
how the browser tests and the dashboard's first-paint benchmark launch it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing() -> str | None:
    """What to do when Debian's chromium is not installed, else ``None``."""
    if Path(CHROMIUM).exists() or shutil.which("chromium") is not None:
        return None
    return "chromium is missing: run `make sysdeps` (Debian's chromium package)"


def launch(pw: Playwright) -> Browser:
    """A headless Chromium with the flags a shared, offline machine needs."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
