"""Where the dashboard's templates and built assets live, and how a page is rendered."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.cookies import set_csrf
from api.deps import Login
from api.state import AppState
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


def link_page(
    request: Request,
    state: AppState,
    login: Login | None,
    template: str = "link.html",
    **context: Any,
) -> HTMLResponse:
    """A mailed link's page (``link.html`` unless told) whose form carries the caller's CSRF
    token: the session's, or a signed anonymous one, also set as the cookie, when not
    logged in."""
    csrf = login.csrf_token if login else state.keys.new_anonymous_csrf()
    response = render(request, template, csrf_token=csrf, **context)
    if login is None:
        set_csrf(response, state.settings.api, csrf)
    return response


def failed_link_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """The page of a mailed link that cannot be used (used, expired, unknown...)."""
    return render(
        request,
        "link.html",
        status_code=status_code,
        heading="This link cannot be used",
        message=message,
        failed=True,
    )
