"""Sign-up in two steps, so that it never tells whether an address has an account.

:func:`request_signup` answers the same for every address, with the same work (the
password is hashed either way and one e-mail is sent): a new address gets a
confirmation link and its sign-up waits in ``email_tokens``; an address that has an
account gets a notice instead. :func:`confirm_signup` (the link's POST) creates the
organisation and its first user, whose address is thereby verified, and is also the
organisation's first (verified) alert address. No unconfirmed user ever exists, so
nobody can squat an address.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import mail
from api.security import hash_password
from api.services import email_tokens
from api.services.auth import take_mail_budgets
from api.services.email_tokens import TokenError
from api.state import AppState
from spendsense.store import find_user_by_email
from spendsense.store.models import Tenant, User

CHECK_MAIL = (
    "check your e-mail: we sent a link to confirm the address (valid 24 hours); "
    "nothing else happens until you open it"
)


def _confirmation(link: str) -> mail.AccountMail:
    return mail.AccountMail(
        subject="Confirm your SpendSense sign-up",
        lines=(
            "Someone (we hope you) signed up to SpendSense with this address.",
            "Confirm it to create your organisation and log in. The link works once, "
            "within 24 hours.",
        ),
        link=link,
        link_label="Confirm the sign-up",
    )


def _already_registered(state: AppState) -> mail.AccountMail:
    return mail.AccountMail(
        subject="Someone tried to sign up to SpendSense with your address",
        lines=(
            "Someone tried to sign up to SpendSense with this address, which already has "
            "an account: no new account was made.",
            "If it was you, log in, or reset your password if you forgot it.",
        ),
        link=mail.link(state, "/forgot"),
        link_label="Reset your password",
    )


def request_signup(
    db: Session,
    state: AppState,
    email: str,
    password: str,
    organisation: str | None,
    client: str,
) -> None:
    """Mail a confirmation link (new address) or a notice (known address); the same work
    and the same answer either way. 429 past the client address's or the address's
    sign-ups (counted before anything else), 503 when the mail cannot be sent (then
    nothing is kept)."""
    email = email.strip().lower()
    take_mail_budgets(db, state.settings.api, "sign-up", email, client)
    password_hash = hash_password(password)  # either way: the timing tells nothing
    if find_user_by_email(db, email) is not None:
        message = _already_registered(state)
    else:
        path = email_tokens.issue(
            db,
            state.keys,
            "signup",
            email,
            password_hash=password_hash,
            organisation=organisation.strip() if organisation else None,
        )
        message = _confirmation(mail.link(state, path))
    mail.send_then_commit(db, state, email, message)


def confirm_signup(db: Session, state: AppState, token: str) -> User:
    """Use a sign-up link: the organisation and its first user (committed).

    :class:`TokenError` for an unknown, used or expired link, and for an address that
    got an account since the link was sent (the link is used up then too).
    """
    row = email_tokens.find(db, state.keys, token, ("signup",))
    email_tokens.consume(db, row)
    taken = TokenError(
        "taken",
        f"{row.email} has an account already (made since this link was sent): "
        "log in, or reset your password",
    )
    if find_user_by_email(db, row.email) is not None or row.password_hash is None:
        db.commit()
        raise taken
    tenant = Tenant(
        id=f"t-{secrets.token_hex(8)}",
        name=row.organisation or row.email.split("@", 1)[1],
        alert_email=row.email,  # verified: the link came to it
    )
    # the organisation's first person is its admin (who invites the others)
    user = User(tenant_id=tenant.id, email=row.email, password_hash=row.password_hash, role="admin")
    try:
        db.add(tenant)
        db.flush()
        db.add(user)
        db.commit()
    except IntegrityError:  # the same address confirmed by another link at this moment
        db.rollback()
        raise taken from None
    return user
