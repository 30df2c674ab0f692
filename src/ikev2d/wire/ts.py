"""Traffic selector payloads TSi/TSr (RFC 7296 §3.13)."""

import ipaddress
import struct
from dataclasses import dataclass
from typing import ClassVar

from .buffer import Buffer
from .enums import PayloadType, TsType
from .errors import ParseError
from .payloads import Payload

__all__ = ["TrafficSelector", "TsPayload", "TsiPayload", "TsrPayload", "UnknownSelector"]

_TS_HEAD = struct.Struct("!BBH")  # type, ip protocol (or reserved), selector length
_PORTS = struct.Struct("!HH")
_COUNT = struct.Struct("!B3x")
_ADDR_SIZE: dict[int, int] = {TsType.IPV4_ADDR_RANGE: 4, TsType.IPV6_ADDR_RANGE: 16}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True, frozen=True)
class TrafficSelector:
    """An IPv4 or IPv6 address range selector. Addresses are kept as packed bytes (exact round
    trip); `start`/`end` give `ipaddress` objects. `ip_protocol` 0 means any."""

    ts_type: int
    ip_protocol: int
    start_port: int
    end_port: int
    start_address: bytes
    end_address: bytes

    @classmethod
    def from_range(
        cls,
        start: "IPAddress | str",
        end: "IPAddress | str",
        ip_protocol: int = 0,
        start_port: int = 0,
        end_port: int = 65535,
    ) -> "TrafficSelector":
        s, e = ipaddress.ip_address(start), ipaddress.ip_address(end)
        if s.version != e.version:
            raise ValueError("start and end addresses of different families")
        ts_type = TsType.IPV4_ADDR_RANGE if s.version == 4 else TsType.IPV6_ADDR_RANGE
        return cls(ts_type, ip_protocol, start_port, end_port, s.packed, e.packed)

    @classmethod
    def from_network(
        cls,
        network: "ipaddress.IPv4Network | ipaddress.IPv6Network | str",
        ip_protocol: int = 0,
        start_port: int = 0,
        end_port: int = 65535,
    ) -> "TrafficSelector":
        net = ipaddress.ip_network(network)
        return cls.from_range(
            net.network_address, net.broadcast_address, ip_protocol, start_port, end_port
        )

    @property
    def start(self) -> IPAddress:
        return ipaddress.ip_address(self.start_address)

    @property
    def end(self) -> IPAddress:
        return ipaddress.ip_address(self.end_address)

    def networks(self) -> "list[ipaddress.IPv4Network | ipaddress.IPv6Network]":
        """The range as a list of CIDR networks (empty if start > end)."""
        s, e = self.start, self.end
        if isinstance(s, ipaddress.IPv4Address) and isinstance(e, ipaddress.IPv4Address):
            return list(ipaddress.summarize_address_range(s, e)) if s <= e else []
        if isinstance(s, ipaddress.IPv6Address) and isinstance(e, ipaddress.IPv6Address):
            return list(ipaddress.summarize_address_range(s, e)) if s <= e else []
        return []  # the two ends of different families (decoded selectors never are)

    def encode(self) -> bytes:
        length = 8 + len(self.start_address) + len(self.end_address)
        return (
            _TS_HEAD.pack(self.ts_type, self.ip_protocol, length)
            + _PORTS.pack(self.start_port, self.end_port)
            + self.start_address
            + self.end_address
        )


@dataclass(slots=True, frozen=True)
class UnknownSelector:
    """A selector of a type we do not interpret (FC, security label …), kept verbatim:
    `octet1` is its second byte, `data` everything after the 4-byte selector header."""

    ts_type: int
    octet1: int
    data: bytes

    def encode(self) -> bytes:
        return _TS_HEAD.pack(self.ts_type, self.octet1, 4 + len(self.data)) + self.data


def _parse_selector(buf: Buffer) -> "TrafficSelector | UnknownSelector":
    ts_type, octet1, length = buf.pull_struct(_TS_HEAD, "traffic selector header")
    size = _ADDR_SIZE.get(ts_type)
    if size is None:
        if length < 4:
            raise ParseError(f"traffic selector length {length} < 4")
        return UnknownSelector(ts_type, octet1, buf.pull_bytes(length - 4, "selector"))
    if length != 8 + 2 * size:
        raise ParseError(f"traffic selector of type {ts_type} with length {length}")
    start_port, end_port = buf.pull_struct(_PORTS, "selector ports")
    start = buf.pull_bytes(size, "selector start address")
    end = buf.pull_bytes(size, "selector end address")
    return TrafficSelector(ts_type, octet1, start_port, end_port, start, end)


@dataclass(slots=True, frozen=True)
class TsPayload(Payload):
    """TSi/TSr. Use the TsiPayload / TsrPayload subclasses."""

    selectors: "tuple[TrafficSelector | UnknownSelector, ...]"
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "TsPayload":
        (count,) = buf.pull_struct(_COUNT, "TS header")
        if count == 0:
            raise ParseError("TS payload with no selectors")
        selectors = tuple(_parse_selector(buf) for _ in range(count))
        if not buf.eof():
            raise ParseError(f"{buf.remaining()} bytes after {count} traffic selectors")
        return cls(selectors, critical)

    def body(self) -> bytes:
        return _COUNT.pack(len(self.selectors)) + b"".join(s.encode() for s in self.selectors)

    def address_selectors(self) -> "list[TrafficSelector]":
        return [s for s in self.selectors if isinstance(s, TrafficSelector)]


@dataclass(slots=True, frozen=True)
class TsiPayload(TsPayload):
    payload_type: ClassVar[int] = PayloadType.TSi


@dataclass(slots=True, frozen=True)
class TsrPayload(TsPayload):
    payload_type: ClassVar[int] = PayloadType.TSr
