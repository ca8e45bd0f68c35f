"""The dashboard's HTML pages; each page's script calls the JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.cookies import set_csrf
from api.deps import DbSession, MaybeLogin, StateDep
from api.pages import render
from api.routes.instances import InstanceId
from api.services.instances import get_instance
from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.errors import NotFound

router = APIRouter(include_in_schema=False)


def anonymous_page(request: Request, state: StateDep, template: str, **context: Any) -> Response:
    """A page used before logging in: it carries a signed double-submit CSRF cookie."""
    response = render(request, template, **context)
    cookie = request.cookies.get(state.settings.api.csrf_cookie)
    if not cookie or not state.keys.anonymous_csrf_valid(cookie):
        set_csrf(response, state.settings.api, state.keys.new_anonymous_csrf())
    return response


def _page(request: Request, login: MaybeLogin, template: str, **context: Any) -> Response:
    if login is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, template, email=login.email, **context)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, login: MaybeLogin) -> Response:
    return _page(request, login, "dashboard.html", page="dashboard")


@router.get("/instances/{instance_id}", response_class=HTMLResponse)
def instance_page(
    instance_id: InstanceId, request: Request, login: MaybeLogin, db: DbSession
) -> Response:
    """One instance's page (its script reads ``/api/instances/{id}/detail``); 404 unless it
    is in one of your accounts, another tenant's answering exactly like an unknown id."""
    if login is None:
        return RedirectResponse("/login", status_code=303)
    try:
        row = get_instance(db, login.tenant_id, instance_id)
    except NotFound as err:
        return render(request, "instance.html", status_code=404, email=login.email, missing=err)
    return render(
        request,
        "instance.html",
        email=login.email,
        page="instance",
        instance_id=row.instance_id,
        title=row.name or row.instance_id,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, login: MaybeLogin) -> Response:
    state = request.app.state.spendsense
    return _page(
        request,
        login,
        "settings.html",
        page="settings",
        optin_tag=state.settings.actions.optin_tag,
        cpu_ceiling=CPU_PERCENT,
        network_ceiling=NETWORK_BPS,
    )


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, login: MaybeLogin) -> Response:
    return _page(request, login, "monitoring.html", page="monitoring")


@router.get("/mail", response_class=HTMLResponse)
def mail_page(request: Request, login: MaybeLogin) -> Response:
    return _page(request, login, "mail.html", page="mail")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, login: MaybeLogin) -> Response:
    if login is not None:
        return RedirectResponse("/", status_code=303)
    return anonymous_page(request, state, "login.html")


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, state: StateDep, login: MaybeLogin) -> Response:
    if login is not None:
        return RedirectResponse("/", status_code=303)
    return anonymous_page(request, state, "signup.html")


@router.get("/forgot", response_class=HTMLResponse)
def forgot_page(request: Request, state: StateDep, login: MaybeLogin) -> Response:
    """Ask for a password reset link."""
    if login is not None:
        return RedirectResponse("/settings", status_code=303)
    return anonymous_page(request, state, "forgot.html")
