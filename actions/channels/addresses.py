"""Where a channel may post: never to this machine or a private network (SSRF).

A channel's URL is checked when it is saved (:func:`check`, for the API's 422) and again
for every request (:func:`pin`): its host is resolved, every address it resolves to must
be public, and the request then goes to the checked address itself (the URL's host kept in
the ``Host`` header and as the TLS server name, so the certificate is still verified for
it), so a name that resolves elsewhere a moment later cannot turn the request inwards.
Hosts named in ``channels.allow_hosts`` are admitted as they are: a receiver on this
machine for tests, an internal relay the operator trusts.

>>> refusal(ip_address("10.0.0.5"))
'a private address (10.0.0.5)'
>>> refusal(ip_address("::ffff:169.254.169.254"))
'a link-local address (169.254.169.254)'
>>> refusal(ip_address("93.184.216.34")) is None
True
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

import httpx

IPAddress = IPv4Address | IPv6Address

NAT64 = ip_network("64:ff9b::/96")
"""The well-known NAT64 prefix: its addresses reach the IPv4 address in their last 32 bits."""


class UnsafeAddress(ValueError):
    """The channel URL's host resolves to an address SpendSense must not post to."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL to connect to, and the headers and request
    extensions that keep the original host for HTTP and TLS."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal: itself); OSError if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ip_address(info[4][0]) for info in infos))


def embedded(ip: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), if any.

    >>> embedded(ip_address("::ffff:127.0.0.1")), embedded(ip_address("64:ff9b::a00:5"))
    (IPv4Address('127.0.0.1'), IPv4Address('10.0.0.5'))
    >>> embedded(ip_address("2606:4700::1111")) is None
    True
    """
    if isinstance(ip, IPv4Address):
        return None
    if ip in NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.ipv4_mapped or ip.sixtofour


def refusal(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is (``a loopback address (::1)``), or None.

    >>> [refusal(ip_address(a)) for a in ("127.0.0.1", "0.0.0.0", "ff02::1", "240.0.0.1")]
    ['a loopback address (127.0.0.1)', 'an unspecified address (0.0.0.0)', \
'a multicast address (ff02::1)', 'a reserved address (240.0.0.1)']
    """
    inner = embedded(ip)
    checked: IPAddress = inner if inner is not None else ip
    kinds = (
        ("an unspecified", checked.is_unspecified),
        ("a loopback", checked.is_loopback),
        ("a link-local", checked.is_link_local),
        ("a multicast", checked.is_multicast),
        ("a reserved", checked.is_reserved),
        ("a private", checked.is_private),
        ("a non-public", not checked.is_global),
    )
    kind = next((name for name, hit in kinds if hit), None)
    return f"{kind} address ({checked})" if kind else None


def admitted(host: str, allow_hosts: Collection[str]) -> bool:
    """Whether ``host`` is named in ``channels.allow_hosts`` (case-insensitive)."""
    return host.lower() in {h.strip().lower() for h in allow_hosts}


def public(addresses: list[IPAddress]) -> IPAddress:
    """The first of ``addresses`` if every one is public; :class:`UnsafeAddress` if not."""
    for ip in addresses:
        why = refusal(ip)
        if why is not None:
            raise UnsafeAddress(f"the channel URL resolves to {why}: use a public endpoint")
    if not addresses:
        raise OSError("the channel URL's host resolves to no address")
    return addresses[0]


def _host_port(url: httpx.URL) -> tuple[str, int]:
    """The URL's host as DNS knows it (IDNA, no brackets) and its port."""
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    return url.raw_host.decode("ascii"), port


def check(url: str, allow_hosts: Collection[str]) -> None:
    """At save: :class:`UnsafeAddress` if ``url``'s host resolves to a non-public address.

    A host that does not resolve now is saved (the check when sending still applies).
    """
    parsed = httpx.URL(url)
    if admitted(parsed.host, allow_hosts):
        return
    try:
        addresses = resolve(*_host_port(parsed))
    except OSError:
        return
    public(addresses)


def pin(url: str, allow_hosts: Collection[str]) -> Target:
    """At send: the request for ``url`` aimed at its host's checked public address.

    Raises :class:`UnsafeAddress` (a non-public address) or OSError (no address).
    """
    parsed = httpx.URL(url)
    if admitted(parsed.host, allow_hosts):
        return Target(parsed)
    host, port = _host_port(parsed)
    ip = public(resolve(host, port))
    return Target(
        parsed.copy_with(host=str(ip)),
        {"Host": parsed.netloc.decode("ascii")},
        {"sni_hostname": host},
    )
