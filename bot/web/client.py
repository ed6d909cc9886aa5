"""Who sent a request: the socket's peer, or X-Forwarded-For read back through trusted proxies."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

Address = IPv4Address | IPv6Address
Networks = tuple[IPv4Network | IPv6Network, ...]
TRUSTED_PROXIES = web.AppKey("trusted_proxies", Networks)
UNKNOWN = "unknown"
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def client_address(request: web.Request) -> str:
    """The client's address, for rate limits and access checks: every caller uses this one."""
    peer = _parse(request.remote or "")
    if peer is None:
        return request.remote or UNKNOWN
    trusted = _proxies(request)
    address: Address | None = peer
    # From the right, each trusted hop tells who connected to it; the first hop that is not
    # ours is the client, and whatever it claims further left is its own invention.
    for hop in reversed(forwarded_for(request)):
        if address is None or not _trusted(address, trusted):
            break
        address = _parse(hop)
    return UNKNOWN if address is None else str(address)


def is_local(request: web.Request) -> bool:
    """Whether the request comes from this machine itself: a loopback peer that is not one of
    our proxies and carries no forwarding header. Anything relayed fails closed, since a proxy
    may pass a client's own X-Forwarded-For on unchanged."""
    peer = _parse(request.remote or "")
    if peer is None or not peer.is_loopback or _trusted(peer, _proxies(request)):
        return False
    return not any(name in request.headers for name in FORWARDING_HEADERS)


def forwarded_for(request: web.Request) -> list[str]:
    """The X-Forwarded-For hops, leftmost first, over however many header lines they came in."""
    lines = request.headers.getall("X-Forwarded-For", [])
    return [hop.strip() for hop in ",".join(lines).split(",") if hop.strip()]


def _proxies(request: web.Request) -> Networks:
    return request.config_dict.get(TRUSTED_PROXIES, ())


def _trusted(address: Address, trusted: Networks) -> bool:
    return any(address in network for network in trusted)


def _parse(text: str) -> Address | None:
    """An address from a hop as proxies write it: bare, "[v6]:port" or "v4:port"."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address
