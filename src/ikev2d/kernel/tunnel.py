"""Value objects the daemon hands to the datapath, and the events it gets back.

Everything here is frozen and carries XFRM's own names (``cbc(aes)``, ``hmac(sha256)``,
``rfc4106(gcm(aes))`` …), so the daemon can build a ``ChildTunnel`` straight from the crypto
room's transform registry without this room knowing IKE numbers.
"""

from __future__ import annotations

import functools
import ipaddress

from ikev2d.wire.frozen import Frozen

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


class SaKeys(Frozen):
    """One direction of a Child SA: its SPI and keys (AEAD: encr_key includes the salt)."""

    __slots__ = ("encr_key", "integ_key", "spi")
    _hidden = frozenset(("encr_key", "integ_key"))
    spi: int
    encr_key: bytes
    integ_key: bytes

    def __init__(self, spi: int, encr_key: bytes, integ_key: bytes = b"") -> None:
        if not 0x100 <= spi <= 0xFFFF_FFFF:
            raise ValueError(f"ESP SPI {spi:#x} out of range")
        self._set(spi=spi, encr_key=encr_key, integ_key=integ_key)


class EspTransform(Frozen):
    """The negotiated ESP suite in XFRM names.

    AEAD: ``encr`` is e.g. ``rfc4106(gcm(aes))`` with ``icv_bits`` 128 and no ``integ``.
    Otherwise ``encr`` is e.g. ``cbc(aes)`` and ``integ`` ``hmac(sha256)`` with
    ``integ_trunc_bits`` 128 (RFC 4868).
    """

    __slots__ = ("encr", "esn", "icv_bits", "integ", "integ_trunc_bits", "replay_window")
    encr: str
    icv_bits: int
    integ: str | None
    integ_trunc_bits: int
    esn: bool
    replay_window: int

    def __init__(
        self,
        encr: str,
        icv_bits: int = 0,
        integ: str | None = None,
        integ_trunc_bits: int = 0,
        esn: bool = False,
        replay_window: int = 32,
    ) -> None:
        if (icv_bits > 0) == (integ is not None):
            raise ValueError("give either an AEAD (icv_bits) or an integrity algorithm")
        if not 0 <= replay_window <= 4096:
            raise ValueError("replay window out of range")
        self._set(encr=encr, icv_bits=icv_bits, integ=integ, integ_trunc_bits=integ_trunc_bits,
                  esn=esn, replay_window=replay_window)  # fmt: skip

    @property
    def aead(self) -> bool:
        return self.icv_bits > 0


class UdpEncap(Frozen):
    """ESP-in-UDP (RFC 3948) ports, set when NAT was detected or the peer floated to 4500."""

    __slots__ = ("local_port", "remote_port")
    local_port: int
    remote_port: int

    def __init__(self, local_port: int = 4500, remote_port: int = 4500) -> None:
        self._set(local_port=local_port, remote_port=remote_port)


class Lifetimes(Frozen):
    """Kernel limits; ``None`` is unlimited. Soft limits raise a soft expire (rekey time)."""

    __slots__ = ("hard_bytes", "hard_seconds", "soft_bytes", "soft_seconds")
    soft_bytes: int | None
    hard_bytes: int | None
    soft_seconds: int | None
    hard_seconds: int | None

    def __init__(
        self,
        soft_bytes: int | None = None,
        hard_bytes: int | None = None,
        soft_seconds: int | None = None,
        hard_seconds: int | None = None,
    ) -> None:
        self._set(soft_bytes=soft_bytes, hard_bytes=hard_bytes, soft_seconds=soft_seconds,
                  hard_seconds=hard_seconds)  # fmt: skip


_UNLIMITED = Lifetimes()


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


class ChildTunnel(Frozen):
    """A tunnel-mode Child SA pair and its traffic selectors, as the daemon installs it.

    ``local``/``remote`` are the outer (IKE) addresses; ``local_ts`` the protected subnets
    behind us, ``remote_ts`` the client's virtual IP(s). Strings are accepted and normalised.
    """

    __slots__ = (
        "encap",
        "inbound",
        "lifetimes",
        "local",
        "local_ts",
        "outbound",
        "remote",
        "remote_ts",
        "reqid",
        "transform",
    )  # fmt: skip
    local: IPAddress
    remote: IPAddress
    inbound: SaKeys
    outbound: SaKeys
    transform: EspTransform
    local_ts: tuple[IPNetwork, ...]
    remote_ts: tuple[IPNetwork, ...]
    reqid: int
    encap: UdpEncap | None
    lifetimes: Lifetimes

    def __init__(
        self,
        local: IPAddress | str,
        remote: IPAddress | str,
        inbound: SaKeys,
        outbound: SaKeys,
        transform: EspTransform,
        local_ts: object,
        remote_ts: object,
        reqid: int,
        encap: UdpEncap | None = None,
        lifetimes: Lifetimes = _UNLIMITED,
    ) -> None:
        self._set(local=_addr(local), remote=_addr(remote), inbound=inbound, outbound=outbound,
                  transform=transform, local_ts=_nets(local_ts), remote_ts=_nets(remote_ts),
                  reqid=reqid, encap=encap, lifetimes=lifetimes)  # fmt: skip
        if self.local.version != self.remote.version:
            raise ValueError("outer addresses of different families")
        if self.reqid not in OWNED_REQIDS or self.reqid == REQID_LARVAL:
            raise ValueError(f"reqid {self.reqid:#x} outside ikev2d's range")
        if not self.local_ts or not self.remote_ts:
            raise ValueError("a tunnel needs traffic selectors on both sides")


class SaExpired(Frozen):
    """XFRM_MSG_EXPIRE for one of our SAs: soft means rekey now, hard means it is gone."""

    __slots__ = ("bytes", "dst", "hard", "packets", "reqid", "spi")
    spi: int
    dst: IPAddress
    reqid: int
    hard: bool
    bytes: int
    packets: int

    def __init__(
        self, spi: int, dst: IPAddress, reqid: int, hard: bool, bytes: int, packets: int
    ) -> None:
        self._set(spi=spi, dst=dst, reqid=reqid, hard=hard, bytes=bytes, packets=packets)


class PolicyExpired(Frozen):
    """XFRM_MSG_POLEXPIRE for one of our policies (we set no policy lifetimes today)."""

    __slots__ = ("direction", "hard", "index")
    direction: int
    index: int
    hard: bool

    def __init__(self, direction: int, index: int, hard: bool) -> None:
        self._set(direction=direction, index=index, hard=hard)


class EventsLost(Frozen):
    """The kernel dropped multicast events (ENOBUFS): re-check SA state by other means."""

    __slots__ = ()
