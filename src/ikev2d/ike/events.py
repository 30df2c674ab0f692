"""What the responder tells the daemon: frozen value objects named in the past tense.

Kernel effects are events too: the core decides that a Child SA exists (`ChildSaInstalled`,
carrying everything the kernel needs) or ends (`ChildSaRemoved`); the daemon applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AuthenticationFailed",
    "ChildSaInstalled",
    "ChildSaRemoved",
    "ChildSaSpec",
    "ChildSaUpdated",
    "Event",
    "IkeKeysDerived",
    "IkeSaEstablished",
    "IkeSaRekeyed",
    "IkeSaTerminated",
    "NegotiationFailed",
]

Address = tuple[str, int]


class Event:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ChildSaSpec:
    """One ESP Child SA in tunnel mode, both directions, as the kernel needs it.

    `inbound_*` is client→router (decrypted here), `outbound_*` router→client. Keys include
    the AEAD salt. `encap` is (local port, remote port) for ESP-in-UDP, or None. The inbound
    SPI (allocated by the kernel, unique) identifies the Child SA.
    """

    local: Address
    remote: Address
    encap: tuple[int, int] | None
    inbound_spi: int
    outbound_spi: int
    encr_xfrm: str
    encr_key_in: bytes = field(repr=False)
    encr_key_out: bytes = field(repr=False)
    icv_bits: int  # AEAD ICV length (integ_xfrm None) or INTEG truncation length
    integ_xfrm: str | None
    integ_key_in: bytes = field(repr=False)
    integ_key_out: bytes = field(repr=False)
    esn: bool
    local_ts: tuple[str, ...]  # CIDR networks on the router side
    remote_ts: tuple[str, ...]  # the client's virtual address(es), as /32 (/128) networks
    lifetime: int  # hard lifetime in seconds: the kernel deletes the SA then
    algorithms: str  # for status, e.g. "aes256-sha256"
    soft_lifetime: int = 0  # seconds until a rekey is due (0: none)
    lifetime_bytes: int = 0  # bytes until a rekey is due (0: no limit)
    # negotiated, not installed: the client's IPv6 taken into the tunnel to be dropped there
    # (a full tunnel without pool6), so the kernel has no policy for it
    refused_ts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildSaInstalled(Event):
    ike_sa: int  # the responder's handle of the IKE SA (our SPI as int)
    child: ChildSaSpec
    replaces: int | None = None  # inbound SPI of the Child SA this one rekeys


@dataclass(frozen=True, slots=True)
class ChildSaUpdated(Event):
    """The client moved (MOBIKE, or a NAT mapping changed): same keys, new outer addresses."""

    ike_sa: int
    old: ChildSaSpec
    new: ChildSaSpec


@dataclass(frozen=True, slots=True)
class IkeSaRekeyed(Event):
    """The IKE SA `old` was replaced by `new` (same client, same Child SAs)."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class IkeKeysDerived(Event):
    """IKE SA keys, emitted only when the daemon asks for them (--save-keys, debugging)."""

    spi_i: bytes
    spi_r: bytes
    encr: str
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    integ: str
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChildSaRemoved(Event):
    ike_sa: int
    child: ChildSaSpec


@dataclass(frozen=True, slots=True)
class IkeSaEstablished(Event):
    ike_sa: int
    identity: str
    remote: Address
    virtual_ip: str | None
    nat: bool
    algorithms: str
    virtual_ip6: str | None = None


@dataclass(frozen=True, slots=True)
class IkeSaTerminated(Event):
    ike_sa: int
    identity: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuthenticationFailed(Event):
    """A client failed to authenticate; for the status page and rate limiting."""

    remote: Address
    identity: str
    reason: str
    code: str = "authentication_failed"  # ike.errors.IkeError.code


@dataclass(frozen=True, slots=True)
class NegotiationFailed(Event):
    """IKE_SA_INIT or a Child SA could not be agreed: what the client offered, in words."""

    remote: Address
    reason: str
    code: str = "no_proposal_chosen"  # ike.errors.IkeError.code
