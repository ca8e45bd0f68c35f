"""Posting a rendered delivery to its channel, and what the answer means.

:func:`post` sends one JSON body (signed for webhooks) and returns an :class:`Answer`:
``sent`` (2xx), ``retry`` (5xx, 429, a timeout or no connection: ``after_s`` is the
``Retry-After`` the receiver asked for, if any) or ``dead`` (any other answer: the URL is
wrong or revoked; trying again will not help). The request goes only to a public address
the host resolved to (:mod:`actions.channels.addresses`): a host resolving to this machine
or a private network is ``dead`` before any connection. An error text is one line with the
status code and a fixed reason: never the URL, never the receiver's body.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal

import httpx

from actions.channels.addresses import UnsafeAddress, pin
from actions.channels.kinds import CHANNEL_KINDS

Verdict = Literal["sent", "retry", "dead"]


@dataclass(frozen=True)
class Answer:
    """What one attempt gave: its verdict, the HTTP status (if any), an error and a wait."""

    verdict: Verdict
    status_code: int | None = None
    error: str = ""
    after_s: float | None = None


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if valid.

    >>> retry_after("120", 0.0), retry_after(None, 0.0), retry_after("soon", 0.0)
    (120.0, None, None)
    >>> retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 30.0)
    30.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def new_client(timeout_s: float) -> httpx.Client:
    """The client :func:`post` sends with: no redirects, and no connection kept for
    another request (a pinned connection's TLS name is its first request's host)."""
    return httpx.Client(
        timeout=timeout_s,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def reason(code: int) -> str:
    """The standard reason for ``code`` (not the receiver's words).

    >>> reason(404), reason(599)
    ('Not Found', 'unexpected status')
    """
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "unexpected status"


def judge(response: httpx.Response) -> Answer:
    """The verdict on one HTTP answer (its body is never read)."""
    code = response.status_code
    if 200 <= code < 300:
        return Answer("sent", code)
    error = f"HTTP {code}: {reason(code)}"
    if code == 429 or code >= 500:
        after = retry_after(response.headers.get("Retry-After"), time.time())
        return Answer("retry", code, error, after)
    return Answer("dead", code, error)


def post(
    client: httpx.Client,
    kind: str,
    url: str,
    body: bytes,
    secret: str | None,
    key: str,
    allow_hosts: Collection[str],
) -> Answer:
    """POST ``body`` to ``url`` as channel ``kind`` expects, at a checked public address
    of its host (unless ``allow_hosts`` names it); never raises for the network."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "SpendSense-Notifications/1",
        "X-SpendSense-Delivery": key,
        **CHANNEL_KINDS[kind].headers(body, secret, int(time.time())),
    }
    try:
        target = pin(url, allow_hosts)
    except UnsafeAddress as exc:
        return Answer("dead", None, str(exc))
    except OSError:
        return Answer("retry", None, "the channel URL's host does not resolve")
    try:
        with client.stream(  # the answer's body is never read
            "POST",
            target.url,
            content=body,
            headers={**headers, **target.headers},
            extensions=target.extensions,
        ) as response:
            return judge(response)
    except httpx.TimeoutException:
        return Answer("retry", None, "no answer in time")
    except httpx.TransportError as exc:
        return Answer("retry", None, f"could not connect ({type(exc).__name__})")
