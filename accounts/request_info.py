"""Where a request came from: one client address for lockouts, the access log, sessions and the rules.

django-axes reads it through AXES_CLIENT_IP_CALLABLE, so a lock, an event and a session name the same
address. `X-Forwarded-For` is believed only from a peer in TRUSTED_PROXIES (DJANGO_TRUSTED_PROXIES):
each trusted proxy appends the address it received from, so the client is the right-most address that
is not itself a trusted proxy; whatever a client wrote further left is its own claim and is ignored.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address

from django.conf import settings

_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>\d{1,3}(?:\.\d{1,3}){3})):\d{1,5}$")


def parse_address(text: str | None) -> IPv4Address | IPv6Address | None:
    """An address as a proxy may write it ("2001:db8::1", "192.0.2.7:5678", "[2001:db8::1]:443"), or None."""
    text = (text or "").strip()
    if match := _PORT.match(text):
        text = match["v6"] or match["v4"]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def from_trusted_proxy(request) -> bool:
    """Whether the peer that sent `request` is one of TRUSTED_PROXIES (whose headers are believed)."""
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    return peer is not None and _trusted(peer)


def client_ip(request) -> str | None:
    """The client's IP address (short form), or None when the request names none that can be read."""
    if request is None:
        return None
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    if peer is None or not _trusted(peer):
        return str(peer) if peer is not None else None
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = parse_address(hop)
        if address is None:
            break  # a trusted proxy never writes this: nothing further left can be believed
        client = address
        if not _trusted(address):
            break
    return str(client)
