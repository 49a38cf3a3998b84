"""The client address the login throttle counts failures against.

By default it is the socket peer, whatever headers say (``auth.trusted_proxies`` empty; uvicorn
runs with ``proxy_headers=False``, so ``request.client`` is the peer). Behind a reverse proxy
every request comes from the proxy's address, and one attacker would lock everybody out: list
the proxy in ``auth.trusted_proxies`` (addresses or networks) and then, for a request whose peer
is one of them, the client is read from ``X-Forwarded-For``: the right-most entry that is not a
trusted proxy itself (entries further left are whatever the client sent and are never
believed). A header from any other peer is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A header longer than this is not a proxy's: only its tail is read.
MAX_FORWARDED_LEN = 4096


def parse_networks(values: Iterable[str]) -> list[Network]:
    """``["10.0.0.5", "192.168.0.0/16", "::1"]`` as networks; ``ValueError`` names a bad one."""
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {v!r}") from None
    return out


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(addr.version == n.version and addr in n for n in nets)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address to throttle: ``peer`` unless ``peer`` is a trusted proxy that sent
    ``X-Forwarded-For``, then that header's right-most untrusted entry (all trusted: the
    left-most; an entry that is no address: the nearest trusted hop)."""
    if not trusted or not forwarded_for:
        return peer
    peer_addr = _addr(peer)
    if peer_addr is None or not _trusted(peer_addr, trusted):
        return peer
    entries = forwarded_for[-MAX_FORWARDED_LEN:].split(",")
    if len(forwarded_for) > MAX_FORWARDED_LEN:
        entries = entries[1:]  # the first one may be cut
    last = peer
    for raw in reversed(entries):
        addr = _addr(raw)
        if addr is None:
            return last
        last = str(addr)
        if not _trusted(addr, trusted):
            return last
    return last
