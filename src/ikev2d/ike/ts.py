"""Traffic-selector narrowing for a remote-access client (RFC 7296 §2.9).

The client's side (TSi) becomes its virtual address; our side (TSr) becomes the part of what
the client asked for that lies within the subnets we offer. IPv4 only for now: IPv6 selectors
from the client are dropped rather than refused, as long as something IPv4 remains.
"""

from __future__ import annotations

import ipaddress

from ikev2d.wire.enums import TsType
from ikev2d.wire.ts import TrafficSelector

from .errors import TsUnacceptable

__all__ = ["narrow_local", "narrow_remote"]

Net4 = ipaddress.IPv4Network


def _ranges4(selectors) -> list[tuple[int, int]]:
    """IPv4 address ranges; protocol and port restrictions are not kept (we offer subnets)."""
    out = []
    for ts in selectors:
        if getattr(ts, "ts_type", None) != TsType.IPV4_ADDR_RANGE:
            continue
        lo, hi = int(ts.start), int(ts.end)
        if lo <= hi:
            out.append((lo, hi))
    return out


def narrow_local(requested, offered: tuple[Net4, ...]) -> tuple[TrafficSelector, ...]:
    """Our side: the intersection of the client's TSr with the subnets we offer."""
    result: list[TrafficSelector] = []
    for lo, hi in _ranges4(requested):
        for net in offered:
            a = max(lo, int(net.network_address))
            b = min(hi, int(net.broadcast_address))
            if a <= b:
                sel = TrafficSelector.from_range(ipaddress.IPv4Address(a), ipaddress.IPv4Address(b))
                if sel not in result:
                    result.append(sel)
    if not result:
        raise TsUnacceptable("the client's TSr holds none of the subnets offered")
    return tuple(result)


def narrow_remote(requested, virtual_ip: ipaddress.IPv4Address) -> tuple[TrafficSelector, ...]:
    """The client's side: its virtual address, which its TSi must contain."""
    v = int(virtual_ip)
    if not any(lo <= v <= hi for lo, hi in _ranges4(requested)):
        raise TsUnacceptable(f"the client's TSi does not contain its address {virtual_ip}")
    return (TrafficSelector.from_range(virtual_ip, virtual_ip),)
