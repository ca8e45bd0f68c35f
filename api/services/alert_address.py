"""A tenant's alert address is confirmed by a mailed link before any digest goes to it.

``Tenant.alert_email`` only ever holds a confirmed address (or the sign-up's own, which
its confirmation link verified); the actions worker sends digests there, else to the
users' (verified) addresses. A new address waits in ``alert_email_pending`` and gets a
link (``/verify/<token>``, 24 h, single use); using it moves the address over.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api import mail
from api.services import email_tokens
from api.services.auth import limited
from api.services.email_tokens import TokenError
from api.state import AppState
from spendsense.store import get_tenant, throttle
from spendsense.store.models import Tenant

# Confirmation mails one organisation may send per sign-up window.
MAILS_PER_TENANT = 5


def _confirmation(link: str, organisation: str) -> mail.AccountMail:
    return mail.AccountMail(
        subject="Confirm SpendSense's alert address",
        lines=(
            f"{organisation} asked SpendSense to send its idle-instance alerts to this address.",
            "Confirm it, and the alerts come here from the next digest on. The link works "
            "once, within 24 hours.",
        ),
        link=link,
        link_label="Confirm the alert address",
    )


def needs_mail(db: Session, tenant: Tenant, wanted: str | None) -> bool:
    """Whether setting ``wanted`` sends a confirmation link: a new address, or the waiting
    one whose link expired."""
    if wanted is None or wanted == tenant.alert_email:
        return False
    if wanted != tenant.alert_email_pending:
        return True
    return not email_tokens.waiting(db, "alert", wanted, tenant_id=tenant.id)


def count_mail(db: Session, state: AppState, tenant_id: str) -> None:
    """Count one confirmation mail against the organisation's budget (commits; call it
    before changing anything); 429 past it."""
    budget = throttle.Budget("alert-address mails", tenant_id, MAILS_PER_TENANT)
    limited(
        throttle.take(db, (budget,), state.settings.api.signup_window_s),
        "alert-address confirmations",
    )


def set_alert_address(db: Session, state: AppState, tenant: Tenant, wanted: str | None) -> None:
    """Apply the settings page's alert address (not committed): none clears both; the
    confirmed one stays; another waits for its link, which is mailed now (503 when it
    cannot be: the caller rolls back)."""
    if wanted is None or wanted == tenant.alert_email:
        email_tokens.forget_unused(db, "alert", tenant_id=tenant.id)  # links withdrawn
        tenant.alert_email, tenant.alert_email_pending = wanted, None
        return
    if not needs_mail(db, tenant, wanted):
        return
    email_tokens.forget_unused(db, "alert", tenant_id=tenant.id)
    path = email_tokens.issue(db, state.keys, "alert", wanted, tenant_id=tenant.id)
    tenant.alert_email_pending = wanted
    mail.send(state, wanted, _confirmation(mail.link(state, path), tenant.name))


def describe(db: Session, state: AppState, token: str) -> tuple[str, str]:
    """The address and organisation a usable alert-address link confirms."""
    row = email_tokens.find(db, state.keys, token, ("alert",))
    tenant = get_tenant(db, row.tenant_id or "")
    return row.email, tenant.name if tenant else "?"


def confirm_alert_address(db: Session, state: AppState, token: str) -> str:
    """Use an alert-address link: the address becomes the tenant's alert address
    (committed); :class:`TokenError` when unusable, or when the settings name another
    address since."""
    row = email_tokens.find(db, state.keys, token, ("alert",))
    tenant = get_tenant(db, row.tenant_id or "", for_update=True)
    email_tokens.consume(db, row)
    if tenant is None or tenant.alert_email_pending != row.email:
        db.commit()
        raise TokenError(
            "stale",
            f"{row.email} is no longer the alert address waiting for confirmation: "
            "set it again on the settings page",
        )
    tenant.alert_email, tenant.alert_email_pending = row.email, None
    db.commit()
    return row.email
