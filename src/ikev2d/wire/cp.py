"""The configuration payload CP (RFC 7296 §3.15) and its attributes (incl. RFC 8598)."""

import ipaddress
import struct
from dataclasses import dataclass
from typing import ClassVar

from .buffer import Buffer
from .enums import CfgAttr, CfgType, PayloadType
from .errors import ParseError
from .payloads import Payload

__all__ = ["CfgAttribute", "CpPayload"]

_CP_HEAD = struct.Struct("!B3x")
_ATTR = struct.Struct("!HH")

# Value lengths allowed for the attributes with a fixed layout (0 = "please assign me one").
# strongSwan rejects other lengths too; a wrong one is a syntax error, not something to guess at.
_FIXED_LENGTHS: dict[int, tuple[int, ...]] = {
    CfgAttr.INTERNAL_IP4_ADDRESS: (0, 4),
    CfgAttr.INTERNAL_IP4_NETMASK: (0, 4),
    CfgAttr.INTERNAL_IP4_DNS: (0, 4),
    CfgAttr.INTERNAL_IP4_NBNS: (0, 4),
    CfgAttr.INTERNAL_IP4_DHCP: (0, 4),
    CfgAttr.INTERNAL_IP6_ADDRESS: (0, 17),
    CfgAttr.INTERNAL_IP6_DNS: (0, 16),
    CfgAttr.INTERNAL_IP6_DHCP: (0, 16),
    CfgAttr.INTERNAL_IP4_SUBNET: (0, 8),
    CfgAttr.INTERNAL_IP6_SUBNET: (0, 17),
}
_IP4_SINGLE = frozenset(
    {
        CfgAttr.INTERNAL_IP4_ADDRESS,
        CfgAttr.INTERNAL_IP4_NETMASK,
        CfgAttr.INTERNAL_IP4_DNS,
        CfgAttr.INTERNAL_IP4_NBNS,
        CfgAttr.INTERNAL_IP4_DHCP,
    }
)
_IP6_SINGLE = frozenset({CfgAttr.INTERNAL_IP6_DNS, CfgAttr.INTERNAL_IP6_DHCP})
_TEXT = frozenset({CfgAttr.APPLICATION_VERSION, CfgAttr.INTERNAL_DNS_DOMAIN})

CfgValue = (
    ipaddress.IPv4Address
    | ipaddress.IPv6Address
    | ipaddress.IPv4Network
    | ipaddress.IPv6Interface
    | ipaddress.IPv6Network
    | str
    | bytes
    | None
)


@dataclass(slots=True, frozen=True)
class CfgAttribute:
    """One attribute: `attr_type` (CfgAttr number) and its raw `value` (empty in requests)."""

    attr_type: int
    value: bytes = b""

    # -- constructors for the attributes a remote-access server hands out -----------------
    @classmethod
    def ip4_address(cls, addr: "ipaddress.IPv4Address | str") -> "CfgAttribute":
        return cls(CfgAttr.INTERNAL_IP4_ADDRESS, ipaddress.IPv4Address(addr).packed)

    @classmethod
    def ip4_netmask(cls, mask: "ipaddress.IPv4Address | str") -> "CfgAttribute":
        return cls(CfgAttr.INTERNAL_IP4_NETMASK, ipaddress.IPv4Address(mask).packed)

    @classmethod
    def ip4_dns(cls, addr: "ipaddress.IPv4Address | str") -> "CfgAttribute":
        return cls(CfgAttr.INTERNAL_IP4_DNS, ipaddress.IPv4Address(addr).packed)

    @classmethod
    def ip4_subnet(cls, net: "ipaddress.IPv4Network | str") -> "CfgAttribute":
        n = ipaddress.IPv4Network(net)
        return cls(CfgAttr.INTERNAL_IP4_SUBNET, n.network_address.packed + n.netmask.packed)

    @classmethod
    def ip6_address(cls, iface: "ipaddress.IPv6Interface | str") -> "CfgAttribute":
        i = ipaddress.IPv6Interface(iface)
        return cls(CfgAttr.INTERNAL_IP6_ADDRESS, i.ip.packed + bytes((i.network.prefixlen,)))

    @classmethod
    def ip6_dns(cls, addr: "ipaddress.IPv6Address | str") -> "CfgAttribute":
        return cls(CfgAttr.INTERNAL_IP6_DNS, ipaddress.IPv6Address(addr).packed)

    @classmethod
    def ip6_subnet(cls, net: "ipaddress.IPv6Network | str") -> "CfgAttribute":
        n = ipaddress.IPv6Network(net)
        return cls(CfgAttr.INTERNAL_IP6_SUBNET, n.network_address.packed + bytes((n.prefixlen,)))

    @classmethod
    def dns_domain(cls, domain: str) -> "CfgAttribute":
        return cls(CfgAttr.INTERNAL_DNS_DOMAIN, domain.encode("ascii"))

    # -- typed view ---------------------------------------------------------------------
    def decoded(self) -> CfgValue:
        """The value as a Python object: None when empty, an address, an IPv4Network for
        INTERNAL_IP4_SUBNET, an IPv6Interface for INTERNAL_IP6_ADDRESS, an IPv6Network for
        INTERNAL_IP6_SUBNET, text for APPLICATION_VERSION / INTERNAL_DNS_DOMAIN, else bytes."""
        t, v = self.attr_type, self.value
        if not v:
            return None
        try:
            if t in _IP4_SINGLE:
                return ipaddress.IPv4Address(v)
            if t in _IP6_SINGLE:
                return ipaddress.IPv6Address(v)
            if t == CfgAttr.INTERNAL_IP4_SUBNET:
                addr = ipaddress.IPv4Address(v[:4])
                return ipaddress.IPv4Network((addr, str(ipaddress.IPv4Address(v[4:]))), False)
            if t == CfgAttr.INTERNAL_IP6_ADDRESS:
                return ipaddress.IPv6Interface((ipaddress.IPv6Address(v[:16]), v[16]))
            if t == CfgAttr.INTERNAL_IP6_SUBNET:
                return ipaddress.IPv6Network((ipaddress.IPv6Address(v[:16]), v[16]), False)
            if t in _TEXT:
                return v.decode()
        except (ValueError, UnicodeDecodeError) as e:
            raise ParseError(f"bad value for configuration attribute {t}: {e}") from None
        return v

    def encode(self) -> bytes:
        return _ATTR.pack(self.attr_type & 0x7FFF, len(self.value)) + self.value


@dataclass(slots=True, frozen=True)
class CpPayload(Payload):
    payload_type: ClassVar[int] = PayloadType.CP
    cfg_type: int
    attributes: "tuple[CfgAttribute, ...]" = ()
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "CpPayload":
        (cfg_type,) = buf.pull_struct(_CP_HEAD, "CP header")
        attrs = []
        while not buf.eof():
            atype, length = buf.pull_struct(_ATTR, "configuration attribute")
            atype &= 0x7FFF  # the top bit is reserved, ignored on receipt
            allowed = _FIXED_LENGTHS.get(atype)
            if allowed is not None and length not in allowed:
                raise ParseError(f"configuration attribute {atype} of length {length}")
            attrs.append(CfgAttribute(atype, buf.pull_bytes(length, "attribute value")))
        return cls(cfg_type, tuple(attrs), critical)

    def body(self) -> bytes:
        return _CP_HEAD.pack(self.cfg_type) + b"".join(a.encode() for a in self.attributes)

    @classmethod
    def request(cls, *attr_types: int) -> "CpPayload":
        return cls(CfgType.REQUEST, tuple(CfgAttribute(t) for t in attr_types))

    def requested(self) -> "list[int]":
        """Attribute types in this payload, in order (what a CFG_REQUEST asks for)."""
        return [a.attr_type for a in self.attributes]

    def values(self, attr_type: int) -> "list[CfgValue]":
        """Decoded non-empty values of one attribute type."""
        return [a.decoded() for a in self.attributes if a.attr_type == attr_type and a.value]
