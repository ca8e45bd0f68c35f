"""Pages behind the links in account e-mails: ``/verify/<token>`` (a sign-up, or an alert
address) and ``/reset/<token>`` (a new password).

As for the alert e-mails' links (``api.routes.links``), a GET only shows what the link
does, and only a POST acts: mail scanners and link previews open links. Each link works
once, until it expires; a used, expired or unknown one gets a page that says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import DbSession, MaybeLogin, StateDep
from api.pages import failed_link_page, link_page, render
from api.routes.auth import log_in_to_dashboard
from api.routes.pages import anonymous_page
from api.services import alert_address, email_tokens, passwords, signup
from api.services.email_tokens import TokenError

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=10, max_length=2000)]


def _failed(request: Request, err: TokenError) -> Response:
    return failed_link_page(request, err.status, err.message)


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify_page(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """What the link confirms, and a button that does it (nothing happens on GET)."""
    try:
        row = email_tokens.find(db, state.keys, token, ("signup", "alert"))
    except TokenError as err:
        return _failed(request, err)
    until = f"This link works once, until {row.expires_at:%Y-%m-%d %H:%M} UTC."
    if row.purpose == "signup":
        heading = "Confirm your sign-up"
        message = f"Create your SpendSense organisation with {row.email} and log in. {until}"
        confirm = "Confirm and log in"
    else:
        email, organisation = alert_address.describe(db, state, token)
        heading = "Confirm the alert address"
        message = f"Send {organisation}'s SpendSense alerts to {email}. {until}"
        confirm = "Confirm the address"
    return link_page(
        request,
        state,
        login,
        heading=heading,
        message=message,
        confirm=confirm,
        form_action=f"/verify/{token}",
    )


@router.post("/verify/{token}", response_class=HTMLResponse)
def verify(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """Use the link: create the organisation and log in (to the dashboard), or make the
    address the organisation's alert address."""
    try:
        row = email_tokens.find(db, state.keys, token, ("signup", "alert"))
        if row.purpose == "alert":
            email = alert_address.confirm_alert_address(db, state, token)
            return render(
                request,
                "link.html",
                heading="Alert address confirmed",
                message=f"SpendSense's alerts go to {email} from the next digest on.",
            )
        user = signup.confirm_signup(db, state, token)
    except TokenError as err:
        db.rollback()
        return _failed(request, err)
    return log_in_to_dashboard(db, state, login, user, "signup")


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_page(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """The form for a new password (its script calls ``POST /api/auth/password/reset``)."""
    try:
        email = passwords.check_reset_token(db, state, token)
    except TokenError as err:
        return _failed(request, err)
    if login is not None:
        return render(
            request, "reset.html", email=login.email, page="reset", reset_email=email, token=token
        )
    return anonymous_page(
        request, state, "reset.html", page="reset", reset_email=email, token=token
    )
