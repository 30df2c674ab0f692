"""Value objects the daemon hands to the datapath, and the events it gets back.

Everything here is frozen and carries XFRM's own names (``cbc(aes)``, ``hmac(sha256)``,
``rfc4106(gcm(aes))`` …), so the daemon can build a ``ChildTunnel`` straight from the crypto
room's transform registry without this room knowing IKE numbers.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

__all__ = [
    "OWNED_REQIDS",
    "REQID_LARVAL",
    "ChildTunnel",
    "EspTransform",
    "EventsLost",
    "Lifetimes",
    "PolicyExpired",
    "SaExpired",
    "SaKeys",
    "UdpEncap",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every SA and policy template ikev2d installs carries a reqid from this range; that is how
# flush_owned() and the expire listener tell our state from other software's in the same netns.
# strongSwan counts reqids up from 1, libreswan from 16384 in steps of 4: neither gets near.
OWNED_REQIDS = range(0x1C2E_0000, 0x1C2F_0000)
# The reqid of larval SAs from allocate_spi() before the Child SA exists.
REQID_LARVAL = OWNED_REQIDS.start
XFRM_INF = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class SaKeys:
    """One direction of a Child SA: its SPI and keys (AEAD: encr_key includes the salt)."""

    spi: int
    encr_key: bytes = field(repr=False)
    integ_key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not 0x100 <= self.spi <= 0xFFFF_FFFF:
            raise ValueError(f"ESP SPI {self.spi:#x} out of range")


@dataclass(frozen=True, slots=True)
class EspTransform:
    """The negotiated ESP suite in XFRM names.

    AEAD: ``encr`` is e.g. ``rfc4106(gcm(aes))`` with ``icv_bits`` 128 and no ``integ``.
    Otherwise ``encr`` is e.g. ``cbc(aes)`` and ``integ`` ``hmac(sha256)`` with
    ``integ_trunc_bits`` 128 (RFC 4868).
    """

    encr: str
    icv_bits: int = 0
    integ: str | None = None
    integ_trunc_bits: int = 0
    esn: bool = False
    replay_window: int = 32

    def __post_init__(self) -> None:
        if self.aead == (self.integ is not None):
            raise ValueError("give either an AEAD (icv_bits) or an integrity algorithm")
        if not 0 <= self.replay_window <= 4096:
            raise ValueError("replay window out of range")

    @property
    def aead(self) -> bool:
        return self.icv_bits > 0


@dataclass(frozen=True, slots=True)
class UdpEncap:
    """ESP-in-UDP (RFC 3948) ports, set when NAT was detected or the peer floated to 4500."""

    local_port: int = 4500
    remote_port: int = 4500


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """Kernel limits; ``None`` is unlimited. Soft limits raise a soft expire (rekey time)."""

    soft_bytes: int | None = None
    hard_bytes: int | None = None
    soft_seconds: int | None = None
    hard_seconds: int | None = None


# ipaddress objects are immutable but big (an IPv4Network with its cached properties is ~400
# bytes): every tunnel names the same router address and LAN subnets, so equal texts share one
# object instead of each connected client holding copies (footprint, see docs/footprint.md).
@functools.lru_cache(maxsize=64)
def _parsed_addr(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@functools.lru_cache(maxsize=64)
def _parsed_net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


def _addr(value: object) -> IPAddress:
    return value if isinstance(value, IPAddress) else _parsed_addr(value)


def _nets(values: object) -> tuple[IPNetwork, ...]:
    if isinstance(values, str | IPNetwork):
        values = (values,)
    return tuple(v if isinstance(v, IPNetwork) else _parsed_net(v) for v in values)


@dataclass(frozen=True, slots=True)
class ChildTunnel:
    """A tunnel-mode Child SA pair and its traffic selectors, as the daemon installs it.

    ``local``/``remote`` are the outer (IKE) addresses; ``local_ts`` the protected subnets
    behind us, ``remote_ts`` the client's virtual IP(s). Strings are accepted and normalised.
    """

    local: IPAddress
    remote: IPAddress
    inbound: SaKeys
    outbound: SaKeys
    transform: EspTransform
    local_ts: tuple[IPNetwork, ...]
    remote_ts: tuple[IPNetwork, ...]
    reqid: int
    encap: UdpEncap | None = None
    lifetimes: Lifetimes = Lifetimes()

    def __post_init__(self) -> None:
        object.__setattr__(self, "local", _addr(self.local))
        object.__setattr__(self, "remote", _addr(self.remote))
        object.__setattr__(self, "local_ts", _nets(self.local_ts))
        object.__setattr__(self, "remote_ts", _nets(self.remote_ts))
        if self.local.version != self.remote.version:
            raise ValueError("outer addresses of different families")
        if self.reqid not in OWNED_REQIDS or self.reqid == REQID_LARVAL:
            raise ValueError(f"reqid {self.reqid:#x} outside ikev2d's range")
        if not self.local_ts or not self.remote_ts:
            raise ValueError("a tunnel needs traffic selectors on both sides")


@dataclass(frozen=True, slots=True)
class SaExpired:
    """XFRM_MSG_EXPIRE for one of our SAs: soft means rekey now, hard means it is gone."""

    spi: int
    dst: IPAddress
    reqid: int
    hard: bool
    bytes: int
    packets: int


@dataclass(frozen=True, slots=True)
class PolicyExpired:
    """XFRM_MSG_POLEXPIRE for one of our policies (we set no policy lifetimes today)."""

    direction: int
    index: int
    hard: bool


@dataclass(frozen=True, slots=True)
class EventsLost:
    """The kernel dropped multicast events (ENOBUFS): re-check SA state by other means."""
