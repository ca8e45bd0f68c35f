"""Forgotten, reset and changed passwords: each new password ends every session.

:func:`forgot_password` answers the same for every address and sends one e-mail either
way (a reset link to an account's address, a "no account here" note otherwise), so
neither the answer nor its timing tells whether an account exists. A reset link works
once, within an hour. :func:`reset_password` and :func:`change_password` set the new
password and delete every session of the user; the caller then opens a fresh one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api import mail
from api.deps import Login
from api.errors import ApiError
from api.logins import LoginCache
from api.security import hash_password
from api.services import email_tokens
from api.services.auth import authenticate, end_sessions, take_mail_budgets
from api.services.email_tokens import TokenError
from api.state import AppState
from spendsense.store import find_user_by_email
from spendsense.store.models import User

FORGOT_ANSWER = (
    "check your e-mail: if the address has an account, a link to reset its password is "
    "on its way (valid 1 hour)"
)


def _reset_mail(link: str) -> mail.AccountMail:
    return mail.AccountMail(
        subject="Reset your SpendSense password",
        lines=(
            "Someone (we hope you) asked to reset the password of the SpendSense account "
            "with this address.",
            "Choose a new password: the link works once, within an hour, and logs out "
            "every session of the account.",
        ),
        link=link,
        link_label="Choose a new password",
    )


def _no_account_mail(state: AppState) -> mail.AccountMail:
    return mail.AccountMail(
        subject="SpendSense password reset: no account with this address",
        lines=(
            "Someone asked to reset the SpendSense password of this address, but no "
            "account uses it.",
            "If it was you, you may have signed up with another address, or sign up now.",
        ),
        link=mail.link(state, "/signup"),
        link_label="Sign up",
    )


def forgot_password(db: Session, state: AppState, email: str, client: str) -> None:
    """Mail a reset link (an account's address) or a note (any other address); 429 past
    the client address's or the address's requests, 503 when the mail cannot be sent."""
    email = email.strip().lower()
    take_mail_budgets(db, state.settings.api, "password reset", email, client)
    user = find_user_by_email(db, email)
    if user is None:
        message = _no_account_mail(state)
    else:
        path = email_tokens.issue(db, state.keys, "reset", email, user_id=user.id)
        message = _reset_mail(mail.link(state, path))
    mail.send_then_commit(db, state, email, message)


def check_reset_token(db: Session, state: AppState, token: str) -> str:
    """The address a usable reset link was sent to; :class:`TokenError` otherwise."""
    return email_tokens.find(db, state.keys, token, ("reset",)).email


def _set_password(db: Session, user: User, password: str, logins: LoginCache[Any] | None) -> None:
    """The new password; every session of the user and every unused reset link end."""
    user.password_hash = hash_password(password)
    email_tokens.forget_unused(db, "reset", user_id=user.id)
    end_sessions(db, user.id, logins)  # commits


def reset_password(db: Session, state: AppState, token: str, password: str) -> User:
    """Use a reset link: the new password, every session ended; :class:`TokenError` for
    an unknown, used or expired link."""
    row = email_tokens.find(db, state.keys, token, ("reset",))
    email_tokens.consume(db, row)
    user = db.get(User, row.user_id) if row.user_id is not None else None
    if user is None:
        db.commit()
        raise TokenError("unknown", "this link's account no longer exists")
    _set_password(db, user, password, state.logins)
    return user


def change_password(
    db: Session, state: AppState, login: Login, current: str, new: str, client: str
) -> User:
    """Check the current password (counted like a log-in of the caller's e-mail), set the
    new one and end every session of the user; 403 for a wrong current password."""
    try:
        user = authenticate(db, state.settings.api, login.email, current, client)
    except ApiError as err:
        if err.code != "bad_credentials":
            raise
        raise ApiError(403, "wrong_password", "the current password is wrong") from None
    _set_password(db, user, new, state.logins)
    return user
