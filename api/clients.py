"""The address a request is counted under (log-in limits): the socket peer, unless that
peer is a trusted reverse proxy, whose own ``X-Forwarded-For`` entry is then believed.

Only ``SPENDSENSE_API__TRUSTED_PROXIES`` (none by default) are trusted, and only the last
entry of their header, the one the proxy wrote itself (nginx here *sets* the header to the
address it saw; anything a caller sent is overwritten or sits before it). Whatever is not
an IP address falls back to the socket peer. The result is normalised and short (at most
43 characters): IPv4-mapped IPv6 as IPv4, other IPv6 addresses by their /64, which one
host usually holds whole, so rotating through it counts as one client.

>>> from ipaddress import ip_network
>>> proxy = (ip_network("10.0.0.5"),)
>>> client_address("10.0.0.5", ["203.0.113.9"], proxy)
'203.0.113.9'
>>> client_address("198.51.100.7", ["203.0.113.9"], proxy)  # not the proxy: ignored
'198.51.100.7'
>>> client_address("10.0.0.5", ["1.1.1.1, 203.0.113.9"], proxy)  # the proxy's own entry
'203.0.113.9'
>>> client_address("10.0.0.5", ["x" * 100], proxy)  # not an address: the peer
'10.0.0.5'
>>> client_address("2001:db8::1:2:3:4", [], ())
'2001:db8::/64'
>>> client_address("::ffff:192.0.2.1", [], ())
'192.0.2.1'
>>> client_address(None, ["203.0.113.9"], proxy)  # no peer address (a Unix socket)
'unknown'
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from fastapi import Request

UNKNOWN = "unknown"
IPV6_PREFIX = 64

Network = IPv4Network | IPv6Network


def _parse(value: str | None) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normalised(address: IPv4Address | IPv6Address) -> str:
    if isinstance(address, IPv4Address):
        return str(address)
    base = int(address) >> (128 - IPV6_PREFIX) << (128 - IPV6_PREFIX)
    return str(IPv6Network((base, IPV6_PREFIX)))


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The normalised client address of a request from ``peer`` carrying these
    ``X-Forwarded-For`` header values (see the module docstring)."""
    address = _parse(peer)
    if address is None:
        return UNKNOWN
    if forwarded_for and any(address in network for network in trusted):
        forwarded = _parse(forwarded_for[-1].rsplit(",", 1)[-1])
        if forwarded is not None:
            address = forwarded
    return _normalised(address)


async def request_client(request: Request) -> str:
    """:func:`client_address` of a request, with the API's trusted proxies."""
    trusted = request.app.state.spendsense.settings.api.trusted_proxies
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
