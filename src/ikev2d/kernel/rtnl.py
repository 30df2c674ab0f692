"""The few NETLINK_ROUTE messages the client routes need, encoded and decoded with ``struct``.

``struct rtmsg`` and ``struct ifaddrmsg`` (``include/uapi/linux/rtnetlink.h``,
``if_addr.h``) followed by rtattrs: a route lookup (RTM_GETROUTE for one address), an address
dump (RTM_GETADDR), adding/replacing and deleting a route, and a route dump. Small enough that
pyroute2's IPRoute (25 MB of imports) is not worth it; every length read is bounds-checked.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from ikev2d.wire.frozen import Frozen

__all__ = [
    "RTM_DELROUTE",
    "RTM_GETADDR",
    "RTM_GETROUTE",
    "RTM_NEWADDR",
    "RTM_NEWROUTE",
    "RT_SCOPE_LINK",
    "RT_SCOPE_NOWHERE",
    "RT_SCOPE_UNIVERSE",
    "RT_TABLE_MAIN",
    "Route",
    "decode_address",
    "decode_route",
    "dump_addresses",
    "dump_routes",
    "encode_route",
    "get_route",
]

RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15
IFA_ADDRESS, IFA_LOCAL = 1, 2
RT_TABLE_MAIN = 254
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
RTN_UNICAST = 1
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_RTMSG = struct.Struct("=BBBBBBBBI")  # family dst_len src_len tos table protocol scope type flags
_IFADDRMSG = struct.Struct("=BBBBI")  # family prefixlen flags scope index
_RTA = struct.Struct("=HH")  # struct rtattr: len, type
_U32 = struct.Struct("=I")
_ADDR_LEN = {socket.AF_INET: 4, socket.AF_INET6: 16}


class Route(Frozen):
    """One route as rtnetlink carries it (addresses as text, absent attributes None)."""

    __slots__ = (
        "dst",
        "dst_len",
        "family",
        "gateway",
        "oif",
        "prefsrc",
        "protocol",
        "scope",
        "table",
        "type",
    )
    family: int
    dst: str | None
    dst_len: int
    table: int
    protocol: int
    scope: int
    type: int
    oif: int | None
    gateway: str | None
    prefsrc: str | None

    def __init__(
        self,
        family: int,
        dst: str | None = None,
        dst_len: int = 0,
        table: int = RT_TABLE_MAIN,
        protocol: int = 0,
        scope: int = RT_SCOPE_UNIVERSE,
        type: int = RTN_UNICAST,
        oif: int | None = None,
        gateway: str | None = None,
        prefsrc: str | None = None,
    ) -> None:
        self._set(
            family=family,
            dst=dst,
            dst_len=dst_len,
            table=table,
            protocol=protocol,
            scope=scope,
            type=type,
            oif=oif,
            gateway=gateway,
            prefsrc=prefsrc,
        )


def _message(mtype: int, flags: int, seq: int, body: bytes) -> bytes:
    return _HDR.pack(_HDR.size + len(body), mtype, flags, seq, 0) + body


def _attr(kind: int, value: bytes) -> bytes:
    length = _RTA.size + len(value)
    return _RTA.pack(length, kind) + value + b"\0" * (-length % 4)


def _addr(family: int, text: str) -> bytes:
    packed = ipaddress.ip_address(text).packed
    if len(packed) != _ADDR_LEN[family]:
        raise ValueError(f"{text} is not an address of family {family}")
    return packed


def encode_route(mtype: int, flags: int, seq: int, route: Route) -> bytes:
    """An RTM_NEWROUTE/RTM_DELROUTE/RTM_GETROUTE request for ``route``."""
    table = route.table if route.table < 256 else 252  # RT_TABLE_COMPAT; the real id in RTA_TABLE
    body = [_RTMSG.pack(route.family, route.dst_len, 0, 0, table, route.protocol, route.scope,
                        route.type, 0)]  # fmt: skip
    if route.table >= 256:
        body.append(_attr(RTA_TABLE, _U32.pack(route.table)))
    if route.dst is not None:
        body.append(_attr(RTA_DST, _addr(route.family, route.dst)))
    if route.oif is not None:
        body.append(_attr(RTA_OIF, _U32.pack(route.oif)))
    if route.gateway is not None:
        body.append(_attr(RTA_GATEWAY, _addr(route.family, route.gateway)))
    if route.prefsrc is not None:
        body.append(_attr(RTA_PREFSRC, _addr(route.family, route.prefsrc)))
    return _message(mtype, flags, seq, b"".join(body))


def get_route(seq: int, dst: str) -> bytes:
    """RTM_GETROUTE: how the kernel would route a packet to ``dst`` (one RTM_NEWROUTE back)."""
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    route = Route(family, dst, 8 * _ADDR_LEN[family], table=0, type=0)
    return encode_route(RTM_GETROUTE, NLM_F_REQUEST, seq, route)


def dump_routes(seq: int, family: int) -> bytes:
    """RTM_GETROUTE dump of every route of ``family`` (filtering is the caller's)."""
    return _message(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq,
                    _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0))  # fmt: skip


def dump_addresses(seq: int, family: int) -> bytes:
    """RTM_GETADDR dump of every address of ``family``."""
    return _message(
        RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFADDRMSG.pack(family, 0, 0, 0, 0)
    )


def _attrs(buf, start: int, end: int) -> dict[int, memoryview]:
    """rtattr type -> value between start and end; a corrupt length ends the walk."""
    found: dict[int, memoryview] = {}
    view = memoryview(buf)
    while start + _RTA.size <= end:
        length, kind = _RTA.unpack_from(buf, start)
        if length < _RTA.size or start + length > end:
            break
        found[kind & 0x3FFF] = view[start + _RTA.size : start + length]  # without NLA_F_ flags
        start += (length + 3) & ~3
    return found


def _body(buf, offset: int, fixed: struct.Struct) -> tuple[tuple, dict[int, memoryview]]:
    (length,) = _U32.unpack_from(buf, offset)
    end = min(offset + length, len(buf))
    start = offset + _HDR.size
    if start + fixed.size > end:
        raise ValueError("truncated rtnetlink message")
    return fixed.unpack_from(buf, start), _attrs(buf, start + fixed.size, end)


def _text(family: int, raw: memoryview | None) -> str | None:
    if raw is None or len(raw) != _ADDR_LEN.get(family):
        return None
    return socket.inet_ntop(family, raw)


def decode_route(buf, offset: int) -> Route:
    """The RTM_NEWROUTE message at ``offset`` (the nlmsghdr) of ``buf``."""
    (family, dst_len, _s, _t, table, protocol, scope, rtype, _f), attrs = _body(buf, offset, _RTMSG)
    if RTA_TABLE in attrs and len(attrs[RTA_TABLE]) == 4:
        (table,) = _U32.unpack_from(attrs[RTA_TABLE])
    oif = _U32.unpack_from(attrs[RTA_OIF])[0] if len(attrs.get(RTA_OIF, b"")) == 4 else None
    return Route(
        family, _text(family, attrs.get(RTA_DST)), dst_len, table, protocol, scope, rtype, oif,
        _text(family, attrs.get(RTA_GATEWAY)), _text(family, attrs.get(RTA_PREFSRC)),
    )  # fmt: skip


def decode_address(buf, offset: int) -> tuple[int, str | None]:
    """(interface index, local address) of the RTM_NEWADDR at ``offset``.

    IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same except on
    point-to-point links, where it is the far end's (if_addr.h), so LOCAL wins when present.
    """
    (family, _plen, _flags, _scope, index), attrs = _body(buf, offset, _IFADDRMSG)
    return index, _text(family, attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS))
