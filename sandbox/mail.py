"""SES mail sent through the sandbox, readable back (tests and the demo's mail view).

moto keeps one body per message; the sandbox records each accepted ``SendEmail`` and
``SendRawEmail`` call itself with both the HTML and the text body, and serves them at
``GET /_sandbox/mail``; :func:`sent_messages` reads them.

>>> form = {"Source": "alerts@spendsense.example",
...         "Destination.ToAddresses.member.1": "ops@example.com",
...         "Message.Subject.Data": "Idle: i-0abc", "Message.Body.Text.Data": "stop it?",
...         "Message.Body.Html.Data": "<p>stop it?</p>"}
>>> m = message_from_send_email(form)
>>> m.to, m.subject, m.text, m.html
(['ops@example.com'], 'Idle: i-0abc', 'stop it?', '<p>stop it?</p>')
"""

from __future__ import annotations

import base64
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import BaseModel


class SentMail(BaseModel):
    """One message SES accepted."""

    message_id: str = ""
    account: str = ""
    region: str = ""
    sent_at: float = 0.0
    source: str
    to: list[str] = []
    cc: list[str] = []
    bcc: list[str] = []
    subject: str = ""
    text: str | None = None
    html: str | None = None


def _members(form: dict[str, str], prefix: str) -> list[str]:
    found = sorted(
        (
            (int(k[len(prefix) :]), v)
            for k, v in form.items()
            if k.startswith(prefix) and k[len(prefix) :].isdigit()
        ),
    )
    return [v for _, v in found]


def message_from_send_email(form: dict[str, str]) -> SentMail:
    """The message a ``SendEmail`` call (query form) sends."""
    return SentMail(
        source=form.get("Source", ""),
        to=_members(form, "Destination.ToAddresses.member."),
        cc=_members(form, "Destination.CcAddresses.member."),
        bcc=_members(form, "Destination.BccAddresses.member."),
        subject=form.get("Message.Subject.Data", ""),
        text=form.get("Message.Body.Text.Data"),
        html=form.get("Message.Body.Html.Data"),
    )


def message_from_send_raw_email(form: dict[str, str]) -> SentMail:
    """The message a ``SendRawEmail`` call sends (MIME parsed for subject and bodies)."""
    raw = base64.b64decode(form.get("RawMessage.Data", ""))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    bodies: dict[str, str | None] = {"plain": None, "html": None}
    for kind in bodies:
        part = parsed.get_body(preferencelist=(kind,))
        if part is not None and isinstance(part, EmailMessage):
            bodies[kind] = str(part.get_content())
    to = _members(form, "Destinations.member.") or [
        a.strip() for a in str(parsed.get("To", "")).split(",") if a.strip()
    ]
    return SentMail(
        source=form.get("Source") or str(parsed.get("From", "")),
        to=to,
        cc=[a.strip() for a in str(parsed.get("Cc", "")).split(",") if a.strip()],
        subject=str(parsed.get("Subject", "")),
        text=bodies["plain"],
        html=bodies["html"],
    )


class MailLog:
    """Every message the sandbox's SES accepted, in order."""

    def __init__(self) -> None:
        self._messages: list[SentMail] = []
        self._lock = threading.Lock()

    def add(self, message: SentMail) -> None:
        with self._lock:
            self._messages.append(message)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.model_dump() for m in self._messages]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def sent_messages(endpoint_url: str, timeout: float = 10.0) -> list[SentMail]:
    """The messages sent through the sandbox at ``endpoint_url``, oldest first."""
    response = httpx.get(f"{endpoint_url}/_sandbox/mail", timeout=timeout)
    response.raise_for_status()
    return [SentMail(**m) for m in response.json()["messages"]]
