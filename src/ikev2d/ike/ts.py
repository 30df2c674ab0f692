"""Traffic-selector narrowing for a remote-access client (RFC 7296 §2.9), IPv4 and IPv6.

The client's side (TSi) becomes its virtual address(es); our side (TSr) becomes the part of
what the client asked for that lies within the networks we offer. Each family is narrowed on
its own: a client that asks for no IPv6 gets none, and what it asks for outside our networks
is dropped rather than refused, as long as something remains.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ikev2d.wire.enums import TsType
from ikev2d.wire.ts import TrafficSelector, UnknownSelector

from .errors import TsUnacceptable

__all__ = ["intersect", "narrow_local", "narrow_remote", "passed_through"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# a TSi/TSr payload's selectors
Selectors = Sequence[TrafficSelector | UnknownSelector]
_TYPE = {4: TsType.IPV4_ADDR_RANGE, 6: TsType.IPV6_ADDR_RANGE}


def _ranges(selectors: Selectors, version: int) -> list[tuple[int, int]]:
    """Address ranges of one family; protocol and port restrictions are not kept (we offer
    whole networks)."""
    out = []
    for ts in selectors:
        if not isinstance(ts, TrafficSelector) or ts.ts_type != _TYPE[version]:
            continue
        lo, hi = int(ts.start), int(ts.end)
        if lo <= hi:
            out.append((lo, hi))
    return out


def _selector(version: int, lo: int, hi: int) -> TrafficSelector:
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return TrafficSelector.from_range(make(lo), make(hi))


def narrow_local(
    requested: Selectors, offered: tuple[IPNetwork, ...]
) -> tuple[TrafficSelector, ...]:
    """Our side: the intersection of the client's TSr with the networks we offer."""
    result = intersect(requested, offered)
    if not result:
        raise TsUnacceptable("the client's TSr holds none of the subnets offered")
    return result


def intersect(requested: Selectors, offered: tuple[IPNetwork, ...]) -> tuple[TrafficSelector, ...]:
    """The parts of the selectors `requested` inside the networks `offered` (maybe none)."""
    result: list[TrafficSelector] = []
    for net in offered:
        for lo, hi in _ranges(requested, net.version):
            a = max(lo, int(net.network_address))
            b = min(hi, int(net.broadcast_address))
            if a <= b and (sel := _selector(net.version, a, b)) not in result:
                result.append(sel)
    return tuple(result)


def narrow_remote(
    requested: Selectors, addresses: tuple[IPAddress, ...]
) -> tuple[TrafficSelector, ...]:
    """The client's side: its virtual addresses. Its TSi must contain the first (IPv4);
    a further one (IPv6) counts only when the TSi asks for that family."""
    result = []
    for n, address in enumerate(addresses):
        v = int(address)
        if any(lo <= v <= hi for lo, hi in _ranges(requested, address.version)):
            result.append(TrafficSelector.from_range(address, address))
        elif n == 0:
            raise TsUnacceptable(f"the client's TSi does not contain its address {address}")
    return tuple(result)


def passed_through(requested: Selectors, version: int) -> tuple[TrafficSelector, ...]:
    """The client's own selectors of one family, unchanged: with IPv6 refused (a full tunnel
    without pool6) its IPv6 goes into the tunnel, where the router drops it."""
    return tuple(_selector(version, lo, hi) for lo, hi in _ranges(requested, version))
