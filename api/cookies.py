"""Setting and clearing the session and CSRF cookies."""

from __future__ import annotations

from starlette.responses import Response

from spendsense.settings import ApiSettings


def set_session(response: Response, settings: ApiSettings, token: str, csrf: str) -> None:
    """The httpOnly session cookie plus the script-readable CSRF cookie."""
    max_age = int(settings.session_ttl_hours * 3600)
    response.set_cookie(
        settings.session_cookie,
        token,
        max_age=max_age,
        httponly=True,
        secure=settings.cookie_secure,
        samesite=settings.cookie_samesite,
        path="/",
    )
    set_csrf(response, settings, csrf)


def set_csrf(response: Response, settings: ApiSettings, csrf: str) -> None:
    """The CSRF cookie: readable by the page's script, never sent cross-site."""
    response.set_cookie(
        settings.csrf_cookie,
        csrf,
        httponly=False,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )


def clear_session(response: Response, settings: ApiSettings) -> None:
    response.delete_cookie(settings.session_cookie, path="/")
