"""IP indicators: prefix expansion for matching, and the client-side warning list.

The server only does exact lookups on hashes, so "is 203.0.113.77 inside a reported proxy
range?" is answered by the client hashing every prefix that could contain the address (the
fixed ladder in :mod:`.constants`) and the server looking each one up.  A submitted range can
therefore only ever match if its prefix length is on that ladder: every IPv4 length from /8,
IPv6 lengths that are multiples of 4 from /16.

The warning list keeps members from poisoning the exchange by accident: reporting a private
range, a documentation range or Google's public resolver would make every peer's traffic look
hostile.  Such submissions are refused on the client unless forced.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from .consortium import ConsortiumKey, ConsortiumKeyring
from .constants import (
    IPV4_BROADEST_PREFIX,
    IPV4_PREFIX_LENGTHS,
    IPV6_BROADEST_PREFIX,
    IPV6_PREFIX_LENGTHS,
)
from .hashing import hash_value
from .normalise import InvalidIdentifier, normalise_ip_network

__all__ = [
    "PUBLIC_RESOLVERS",
    "SPECIAL_RANGES",
    "covering_prefixes",
    "hash_prefixes",
    "warning_for",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA special-purpose registries (RFC 6890 and successors), written out rather than taken
# from ipaddress.is_private/is_reserved, whose tables change between Python patch releases:
# two members on different Pythons must refuse the same submissions.
SPECIAL_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "CGNAT shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/8", "reserved"),
    ("64:ff9b::/96", "reserved (NAT64 translation)"),
    ("64:ff9b:1::/48", "reserved (local NAT64 translation)"),
    ("100::/64", "reserved (discard-only)"),
    ("2001::/23", "reserved (IETF protocol assignments)"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "reserved (6to4)"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved (site-local)"),
    ("ff00::/8", "multicast"),
)

#: Anycast resolvers that huge numbers of innocent clients share.
PUBLIC_RESOLVERS: tuple[str, ...] = (
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "149.112.112.112",
    "208.67.222.222",
    "208.67.220.220",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2606:4700:4700::1111",
    "2606:4700:4700::1001",
    "2620:fe::fe",
)

_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


@lru_cache(maxsize=1)
def _tables() -> tuple[
    list[tuple[Network, str]], list[ipaddress.IPv4Address | ipaddress.IPv6Address]
]:
    special = [(ipaddress.ip_network(cidr), why) for cidr, why in SPECIAL_RANGES]
    resolvers = [ipaddress.ip_address(a) for a in PUBLIC_RESOLVERS]
    return special, resolvers


def _as_network(network: str | Network) -> Network:
    if isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return network
    return normalise_ip_network(network)


def covering_prefixes(address: str) -> list[str]:
    """Canonical CIDR strings of every ladder prefix containing ``address``, most specific first.

    IPv4: /32 down to /8 (25 prefixes).  IPv6: /128 down to /16 in steps of 4 (29 prefixes).
    IPv4-mapped IPv6 addresses are treated as IPv4.  If ``address`` is a range, only the
    ladder prefixes at least as broad as it are returned.
    """
    network = normalise_ip_network(address)
    ladder = IPV4_PREFIX_LENGTHS if network.version == 4 else IPV6_PREFIX_LENGTHS
    base = network.network_address
    out = []
    for length in ladder:
        if length <= network.prefixlen:
            out.append(str(ipaddress.ip_network((base, length), strict=False)))
    return out


def hash_prefixes(key: ConsortiumKey | ConsortiumKeyring, address: str) -> list[str]:
    """Exact hashes of :func:`covering_prefixes`, in the same order (for a match request)."""
    return [hash_value(key, "ip", p) for p in covering_prefixes(address)]


def warning_for(network: str | Network) -> str | None:
    """Why a submitted address/range should be refused unless forced, or ``None`` if fine."""
    try:
        net = _as_network(network)
    except InvalidIdentifier as exc:
        return exc.reason
    special, resolvers = _tables()
    for candidate, why in special:
        if candidate.version == net.version and net.overlaps(candidate):
            return f"{why} range {candidate}"
    if net.version == 6 and not net.subnet_of(_GLOBAL_UNICAST_V6):
        return "reserved (outside global unicast 2000::/3)"
    broadest = IPV4_BROADEST_PREFIX if net.version == 4 else IPV6_BROADEST_PREFIX
    if net.prefixlen < broadest:
        return f"range broader than /{broadest}"
    for resolver in resolvers:
        if resolver.version == net.version and resolver in net:
            return f"contains well-known public resolver {resolver}"
    if net.version == 6 and net.prefixlen % 4:
        # Queries only hash nibble-aligned IPv6 prefixes, so this range could never match.
        return "IPv6 prefix length not a multiple of 4 (never matched by prefix expansion)"
    return None
