"""Channel URLs never reach this machine or a private network (SSRF): checked when saved,
checked again and pinned to the checked address for every request, and an error never
quotes the receiver's answer. No broker, store or network: the resolver is replaced."""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import ip_address

import httpx
import pytest

from actions.channels import addresses
from actions.channels.addresses import IPAddress, UnsafeAddress, check, pin
from actions.channels.sender import Answer, post

HOST = "hooks.example.test"
PUBLIC = "93.184.216.34"
INWARD = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "fe80::1",
    "fc00::1",
    "::ffff:10.0.0.5",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "0.0.0.0",  # noqa: S104 (an address refused, not one bound)
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "100.64.0.1",
]


def resolving(*ips: str) -> Callable[[str, int], list[IPAddress]]:
    """A resolver answering ``ips`` for any host."""
    return lambda host, port: [ip_address(i) for i in ips]


def unresolvable(host: str, port: int) -> list[IPAddress]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def posting(
    handler: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport records each request and answers with ``handler``."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record)), seen


@pytest.mark.parametrize("ip", INWARD)
def test_inward_addresses_are_refused_when_saved_and_when_sent(
    monkeypatch: pytest.MonkeyPatch, ip: str
) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving(ip))
    with pytest.raises(UnsafeAddress, match=r"^the channel URL resolves to .+: use a public"):
        check(f"https://{HOST}/hook", [])
    with pytest.raises(UnsafeAddress):
        pin(f"https://{HOST}/hook", [])


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hook",
        "https://[::ffff:10.0.0.5]/hook",
        "https://localhost/hook",
    ],
)
def test_literal_and_local_hosts_are_refused_by_the_real_resolver(url: str) -> None:
    with pytest.raises(UnsafeAddress):
        check(url, [])


def test_the_error_is_one_line_naming_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving(PUBLIC, "10.0.0.5"))
    with pytest.raises(UnsafeAddress) as refused:
        check(f"https://{HOST}/hook", [])
    assert str(refused.value) == (
        "the channel URL resolves to a private address (10.0.0.5): use a public endpoint"
    )


def test_a_public_host_is_pinned_to_its_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving(PUBLIC))
    check(f"https://{HOST}/hook", [])
    target = pin(f"https://{HOST}:8443/services/T/B?x=1", [])
    assert str(target.url) == f"https://{PUBLIC}:8443/services/T/B?x=1"
    assert target.headers == {"Host": f"{HOST}:8443"}
    assert target.extensions == {"sni_hostname": HOST}


def test_allowed_hosts_are_admitted_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving("127.0.0.1"))
    check("http://127.0.0.1:8080/hook", ["127.0.0.1"])
    check("https://Relay.Internal/hook", ["relay.internal"])
    target = pin("http://127.0.0.1:8080/hook", ["127.0.0.1"])
    assert str(target.url) == "http://127.0.0.1:8080/hook" and not target.extensions


def test_a_host_that_does_not_resolve_is_saved_and_retried_when_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(addresses, "resolve", unresolvable)
    check(f"https://{HOST}/hook", [])
    client, seen = posting(lambda r: httpx.Response(200))
    answer = post(client, "slack", f"https://{HOST}/hook", b"{}", None, "k", [])
    assert answer == Answer("retry", None, "the channel URL's host does not resolve")
    assert seen == []


def test_the_request_goes_to_the_checked_address_with_the_host_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving(PUBLIC))
    client, seen = posting(lambda r: httpx.Response(200))
    assert post(client, "webhook", f"https://{HOST}/hook", b"{}", "whsec_x", "k", []) == Answer(
        "sent", 200
    )
    (request,) = seen
    assert request.url.host == PUBLIC and request.url.path == "/hook"
    assert request.headers["Host"] == HOST
    assert request.extensions["sni_hostname"] == HOST
    assert request.headers["X-SpendSense-Signature"].startswith("v1=")


def test_a_host_resolving_inward_at_send_is_never_connected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Admitted when saved (public then), resolving to a private address when sent."""
    monkeypatch.setattr(addresses, "resolve", resolving(PUBLIC))
    check(f"https://{HOST}/hook", [])
    monkeypatch.setattr(addresses, "resolve", resolving("10.0.0.5"))
    client, seen = posting(lambda r: httpx.Response(200))
    answer = post(client, "slack", f"https://{HOST}/hook", b"{}", None, "k", [])
    assert answer == Answer(
        "dead",
        None,
        "the channel URL resolves to a private address (10.0.0.5): use a public endpoint",
    )
    assert seen == []


@pytest.mark.parametrize(
    ("status", "verdict", "error"),
    [
        (500, "retry", "HTTP 500: Internal Server Error"),
        (404, "dead", "HTTP 404: Not Found"),
        (599, "retry", "HTTP 599: unexpected status"),
    ],
)
def test_an_error_keeps_the_status_never_the_body(
    monkeypatch: pytest.MonkeyPatch, status: int, verdict: str, error: str
) -> None:
    monkeypatch.setattr(addresses, "resolve", resolving(PUBLIC))
    banner = b"SSH-2.0-OpenSSH_9.6 internal-db.corp: secret"
    client, _ = posting(lambda r: httpx.Response(status, content=banner))
    answer = post(client, "webhook", f"https://{HOST}/hook", b"{}", "whsec_x", "k", [])
    assert (answer.verdict, answer.status_code, answer.error) == (verdict, status, error)
