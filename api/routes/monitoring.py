"""The monitoring page's figures, and the demo's mail view."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import APIRouter

from api.deps import DbSession, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas.monitoring import MailBox, MailMessage, Monitoring
from api.services.monitoring import monitoring as figures
from spendsense.store import get_tenant

router = APIRouter(tags=["monitoring"], responses=ERROR_RESPONSES)


@router.get("/api/monitoring")
def monitoring(login: ViewerLogin, db: DbSession, state: StateDep) -> Monitoring:
    """Your pipeline's key figures, its health as Prometheus sees it, and (operators only)
    the links to Prometheus and Grafana."""
    return figures(db, state.settings, login.tenant_id, login.email)


@router.get("/api/demo/mail")
def demo_mail(login: ViewerLogin, db: DbSession, state: StateDep) -> MailBox:
    """Demo mode only: the e-mails the sandbox received for your own address or your
    organisation's confirmed alert address.

    Only verified addresses: yours (confirmed at sign-up) and the alert address once its
    link was used. Mail to a pending alert address, its confirmation link included, is
    never shown: showing that link would let an organisation confirm an address it does
    not own."""
    if not state.settings.api.demo_mode:
        raise ApiError(404, "not_found", "the mail view exists in demo mode only")
    from sandbox.mail import sent_messages

    try:
        # demo mode: AWS is the sandbox, so its endpoint is where the mail log is
        endpoint = state.settings.aws.endpoint_url or state.settings.sandbox.url
        sent = sent_messages(endpoint, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ApiError(502, "sandbox_unreachable", f"the sandbox does not answer: {exc}") from None
    tenant = get_tenant(db, login.tenant_id)
    # Tenant.alert_email holds a confirmed address only (the pending one is apart)
    mine = {login.email.lower(), (tenant.alert_email or "").lower() if tenant else ""}
    return MailBox(
        messages=[
            MailMessage(
                source=m.source,
                to=m.to,
                subject=m.subject,
                sent_at=datetime.fromtimestamp(m.sent_at, UTC),
                text=m.text,
                html=m.html,
            )
            for m in reversed(sent)
            if mine & {t.lower() for t in m.to}
        ]
    )
