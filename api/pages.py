"""Where the dashboard's templates and built assets live, and how a page is rendered."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from spendsense.settings import ROOT

UI_DIR = ROOT / "ui"
STATIC_DIR = UI_DIR / "dist"
TEMPLATES = Jinja2Templates(directory=str(UI_DIR / "templates"))


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page from ``ui/templates`` with the settings every page needs."""
    state = request.app.state.spendsense
    context.setdefault("demo_mode", state.settings.api.demo_mode)
    context.setdefault("csrf_cookie", state.settings.api.csrf_cookie)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
