"""Account mail sent by the API itself, at once: sign-up confirmation, password reset,
alert-address confirmation, and the notice that someone tried to sign up with an address.

Each message goes through SES synchronously with the actions worker's own ``SendEmail``
action and SES client construction (``spendsense.aws.SesClient``). An SES error becomes
one clear 503 (``could not send the e-mail; try again``) raised before the caller commits
anything; the token a link carries is never logged.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.orm import Session

from actions.registry import SendEmail
from api.errors import ApiError
from api.pages import TEMPLATES
from api.state import AppState

log = logging.getLogger(__name__)

UNSENT = "could not send the e-mail; try again"


@dataclass(frozen=True)
class AccountMail:
    """One account e-mail: a subject, a few paragraphs, and an optional button link.

    >>> m = AccountMail("Hi", ("Line one.",), "https://x.example/verify/t", "Confirm")
    >>> print(m.text())
    Line one.
    <BLANKLINE>
    Confirm: https://x.example/verify/t
    <BLANKLINE>
    If you did not ask for this, ignore this e-mail: nothing changes.
    """

    subject: str
    lines: tuple[str, ...]
    link: str | None = None
    link_label: str = ""

    def text(self) -> str:
        """The plain-text body."""
        parts = list(self.lines)
        if self.link:
            parts.append(f"{self.link_label}: {self.link}")
        parts.append("If you did not ask for this, ignore this e-mail: nothing changes.")
        return "\n\n".join(parts)

    def html(self) -> str:
        """The HTML body (``ui/templates/email/account.html``)."""
        return TEMPLATES.env.get_template("email/account.html").render(
            lines=self.lines, link=self.link, link_label=self.link_label
        )


def link(state: AppState, path: str) -> str:
    """An absolute link to ``path`` on this API's public address."""
    return state.settings.api.public_url.rstrip("/") + path


def send(state: AppState, recipient: str, mail: AccountMail) -> None:
    """Send ``mail`` to ``recipient`` now; 503 (nothing sent) when SES refuses or fails."""
    params = SendEmail.Params(
        sender=state.settings.actions.sender,
        recipient=recipient,
        subject=mail.subject,
        text=mail.text(),
        html=mail.html(),
        idempotency_key=f"account-{secrets.token_hex(16)}",
    )
    try:
        SendEmail.run(state.ses(), params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        log.warning("account e-mail (%s) not sent: SES %s", mail.subject, code)
        raise ApiError(503, "mail_unavailable", UNSENT) from None
    except BotoCoreError as exc:
        log.warning("account e-mail (%s) not sent: %s", mail.subject, type(exc).__name__)
        raise ApiError(503, "mail_unavailable", UNSENT) from None


def send_then_commit(db: Session, state: AppState, recipient: str, mail: AccountMail) -> None:
    """Send ``mail``, then commit what the caller prepared for it (a token, a pending
    address); a 503 rolls it all back, so nothing is kept that was never mailed."""
    try:
        send(state, recipient, mail)
    except ApiError:
        db.rollback()
        raise
    db.commit()
