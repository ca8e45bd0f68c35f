"""Several people per organisation: the members, their roles, invites by e-mail.

An admin invites an address with a role: a single-use link (``email_tokens``, purpose
``invite``, 8 hours) is mailed through the same path as the sign-up and reset mails, and
using it (:func:`accept_invite`) creates the person in the inviting organisation with
that role. An address belongs to one organisation: an invite to an address that has an
account (here or elsewhere) is mailed like any other, and its link then says the address
is taken, so the answer tells the admin nothing about other organisations.

Role changes and removals take the organisation's row lock first, so two admins demoting
each other at once cannot leave it without an admin. Removing a member deletes their
sessions at once; every change of a role or a member makes every API process drop the
logins it kept (``api.logins``), so the new role applies from the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import mail
from api.deps import Login
from api.errors import ApiError
from api.schemas.members import Member, Members, PendingInvite, Role
from api.security import hash_password
from api.services import email_tokens
from api.services.auth import take_mail_budgets
from api.services.email_tokens import TokenError
from api.state import AppState
from spendsense.store import append_audit, find_user_by_email, list_users
from spendsense.store.models import EmailToken, LoginSession, Tenant, User, utcnow

ADMIN = "admin"


def _member(user: User) -> Member:
    return Member(
        user_id=user.id,
        email=user.email,
        role=user.role,
        joined_at=user.created_at,
    )


def list_members(db: Session, tenant_id: str) -> Members:
    """The organisation's members (oldest first) and its unused, unexpired invites."""
    invites = db.scalars(
        select(EmailToken)
        .where(
            EmailToken.tenant_id == tenant_id,
            EmailToken.purpose == "invite",
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > utcnow(),
        )
        .order_by(EmailToken.created_at)
    ).all()
    return Members(
        members=[_member(u) for u in list_users(db, tenant_id)],
        invites=[
            PendingInvite(email=t.email, role=t.role or "viewer", expires_at=t.expires_at)
            for t in invites
        ],
    )


def _invite_mail(link: str, organisation: str, inviter: str, role: str) -> mail.AccountMail:
    return mail.AccountMail(
        subject=f"{inviter} invites you to {organisation} on SpendSense",
        lines=(
            f"{inviter} invites you to join {organisation} on SpendSense as {role}.",
            "Choose a password to accept and log in. The link works once, within 8 hours.",
        ),
        link=link,
        link_label="Accept the invite",
    )


def invite(db: Session, state: AppState, login: Login, email: str, role: Role, client: str) -> str:
    """Mail ``email`` a link to join the caller's organisation as ``role`` (an earlier
    unused invite to the address is replaced); audited. 409 for an address already a
    member here, 429 past the mail budgets, 503 when the mail cannot be sent (then nothing
    is kept). Returns the address as it is kept (lower case)."""
    email = email.strip().lower()
    take_mail_budgets(db, state.settings.api, "invite", email, client)
    existing = find_user_by_email(db, email)
    if existing is not None and existing.tenant_id == login.tenant_id:
        raise ApiError(409, "already_member", f"{email} is a member already: change their role")
    tenant = db.get(Tenant, login.tenant_id)
    organisation = tenant.name if tenant else "your organisation"
    email_tokens.forget_unused(db, "invite", email=email, tenant_id=login.tenant_id)
    path = email_tokens.issue(db, state.keys, "invite", email, tenant_id=login.tenant_id, role=role)
    _audit(db, login.tenant_id, login.email, "member_invited", email, role)
    message = _invite_mail(mail.link(state, path), organisation, login.email, role)
    mail.send_then_commit(db, state, email, message)
    return email


@dataclass(frozen=True)
class InviteView:
    """What an invite link offers, for its page."""

    email: str
    organisation: str
    role: str
    expires_at: datetime


def describe_invite(db: Session, state: AppState, token: str) -> InviteView:
    """The invite behind a link; :class:`TokenError` for an unknown, used or expired one."""
    row = email_tokens.find(db, state.keys, token, ("invite",))
    tenant = db.get(Tenant, row.tenant_id) if row.tenant_id else None
    return InviteView(
        email=row.email,
        organisation=tenant.name if tenant else "?",
        role=row.role or "viewer",
        expires_at=row.expires_at,
    )


def accept_invite(db: Session, state: AppState, token: str, password: str) -> User:
    """Use an invite link: the new member, in the inviting organisation with the invite's
    role (committed). :class:`TokenError` for an unknown, used or expired link, and for an
    address that has an account (the link is used up then too)."""
    row = email_tokens.find(db, state.keys, token, ("invite",))
    password_hash = hash_password(password)
    email_tokens.consume(db, row)
    taken = TokenError(
        "taken",
        f"{row.email} has a SpendSense account already (an address belongs to one "
        "organisation): log in with it, or ask to be invited with another address",
    )
    if row.tenant_id is None or find_user_by_email(db, row.email) is not None:
        db.commit()
        raise taken
    role = row.role or "viewer"
    user = User(tenant_id=row.tenant_id, email=row.email, password_hash=password_hash, role=role)
    try:
        db.add(user)
        db.flush()
        _audit(db, row.tenant_id, row.email, "member_joined", row.email, role)
        db.commit()
    except IntegrityError:  # the same address joined by another link at this moment
        db.rollback()
        raise taken from None
    return user


def _locked_member(db: Session, tenant_id: str, user_id: int) -> User:
    """The tenant's member ``user_id``, with the tenant's row locked until commit (404 for
    an id of no member here, another organisation's included)."""
    db.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    user = db.get(User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise ApiError(404, "not_found", "no such member in your organisation")
    return user


def _keep_an_admin(db: Session, user: User, doing: str) -> None:
    """409 when ``user`` is the organisation's only admin (the tenant row is locked)."""
    if user.role != ADMIN:
        return
    admins = db.scalar(
        select(func.count()).where(User.tenant_id == user.tenant_id, User.role == ADMIN)
    )
    if admins == 1:
        raise ApiError(
            409,
            "last_admin",
            f"{user.email} is the organisation's only admin: make another member admin "
            f"before you {doing}",
        )


def _audit(db: Session, tenant_id: str, actor: str, action: str, email: str, role: str) -> None:
    append_audit(
        db,
        tenant_id,
        actor=actor,
        action=action,
        result="ok",
        reason=f"{email} ({role})",
        details={"email": email, "role": role},
    )


def change_role(db: Session, state: AppState, login: Login, user_id: int, role: Role) -> Member:
    """Give member ``user_id`` ``role`` (audited); 409 when that would leave the
    organisation without an admin."""
    user = _locked_member(db, login.tenant_id, user_id)
    if role != ADMIN:
        _keep_an_admin(db, user, "change their role")
    user.role = role
    _audit(db, login.tenant_id, login.email, "member_role_changed", user.email, role)
    db.commit()
    if state.logins is not None:
        state.logins.revoke()
    return _member(user)


def remove_member(db: Session, state: AppState, login: Login, user_id: int) -> str:
    """Remove member ``user_id``: their sessions end at once (audited); 409 for the
    organisation's only admin. Returns the address removed."""
    user = _locked_member(db, login.tenant_id, user_id)
    _keep_an_admin(db, user, "remove them")
    email, role = user.email, user.role
    db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    db.execute(delete(EmailToken).where(EmailToken.user_id == user.id))
    db.delete(user)
    _audit(db, login.tenant_id, login.email, "member_removed", email, role)
    db.commit()
    if state.logins is not None:
        state.logins.revoke()
    return email
