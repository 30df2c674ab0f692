"""The simple IKEv2 payloads (RFC 7296 §3.4-§3.12, §3.14; RFC 7383 §2.5) and their base class.

Each payload is a small frozen dataclass; `parse(buf, critical)` reads the payload *body* (the
bytes after the 4-byte generic payload header) from a `Buffer` window and `body()` returns it.
The generic header (next payload, critical bit, length) is handled by `message`.
SA, TS, CP and EAP live in their own modules.
"""

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

from .buffer import Buffer
from .enums import IdType, NotifyType, PayloadType, ProtocolId
from .errors import ParseError

__all__ = [
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "DeletePayload",
    "EncryptedFragmentPayload",
    "EncryptedPayload",
    "IdPayload",
    "IdiPayload",
    "IdrPayload",
    "KePayload",
    "NoncePayload",
    "Notify",
    "NotifyPayload",
    "Payload",
    "UnknownPayload",
    "VendorIdPayload",
]

_HHxx = struct.Struct("!H2x")
_Bxxx = struct.Struct("!B3x")
_BBH = struct.Struct("!BBH")
_HH = struct.Struct("!HH")
_H = struct.Struct("!H")

NONCE_MIN, NONCE_MAX = 16, 256  # RFC 7296 §3.9
NOTIFY_ERROR_MAX = 16383  # types up to here are errors (§3.10.1)


class Payload:
    """Base of every payload class. `payload_type` is the IANA payload type number."""

    __slots__ = ()
    payload_type: ClassVar[int]
    critical: bool

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "Payload":
        raise NotImplementedError

    def body(self) -> bytes:
        raise NotImplementedError


@dataclass(slots=True, frozen=True)
class UnknownPayload(Payload):
    """A payload type we do not implement, kept verbatim so it re-encodes unchanged.

    If `critical` is set the IKE layer must answer UNSUPPORTED_CRITICAL_PAYLOAD (§2.5).
    """

    # per instance: the type we do not know (the other payloads have it per class)
    payload_type: int  # type: ignore[misc]
    critical: bool
    data: bytes

    def body(self) -> bytes:
        return self.data


@dataclass(slots=True, frozen=True)
class KePayload(Payload):
    payload_type: ClassVar[int] = PayloadType.KE
    group: int
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "KePayload":
        (group,) = buf.pull_struct(_HHxx, "KE header")
        return cls(group, buf.pull_rest(), critical)

    def body(self) -> bytes:
        return _HHxx.pack(self.group) + self.data


@dataclass(slots=True, frozen=True)
class IdPayload(Payload):
    """IDi/IDr (§3.5). Use the IdiPayload / IdrPayload subclasses."""

    id_type: int
    data: bytes
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "IdPayload":
        (id_type,) = buf.pull_struct(_Bxxx, "ID header")
        return cls(id_type, buf.pull_rest(), critical)

    def body(self) -> bytes:
        return _Bxxx.pack(self.id_type) + self.data

    @classmethod
    def from_value(cls, value: "str | ipaddress.IPv4Address | ipaddress.IPv6Address") -> Self:
        """IDs from their natural value: an address, an e-mail (RFC822) or an FQDN."""
        if isinstance(value, ipaddress.IPv4Address):
            return cls(IdType.IPV4_ADDR, value.packed)
        if isinstance(value, ipaddress.IPv6Address):
            return cls(IdType.IPV6_ADDR, value.packed)
        kind = IdType.RFC822_ADDR if "@" in value else IdType.FQDN
        return cls(kind, value.encode())

    def value(self) -> "str | ipaddress.IPv4Address | ipaddress.IPv6Address | bytes":
        """Decoded value: an address for IP types, text for FQDN/RFC822, else the raw bytes."""
        t, d = self.id_type, self.data
        if t in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
            size = 4 if t == IdType.IPV4_ADDR else 16
            if len(d) != size:
                raise ParseError(f"ID address of {len(d)} bytes, expected {size}")
            return ipaddress.ip_address(d)
        if t in (IdType.FQDN, IdType.RFC822_ADDR):
            try:
                return d.decode()
            except UnicodeDecodeError:
                raise ParseError("ID text is not valid UTF-8") from None
        return d


@dataclass(slots=True, frozen=True)
class IdiPayload(IdPayload):
    payload_type: ClassVar[int] = PayloadType.IDi


@dataclass(slots=True, frozen=True)
class IdrPayload(IdPayload):
    payload_type: ClassVar[int] = PayloadType.IDr


@dataclass(slots=True, frozen=True)
class CertPayload(Payload):
    payload_type: ClassVar[int] = PayloadType.CERT
    encoding: int
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "CertPayload":
        return cls(buf.pull_uint8("CERT encoding"), buf.pull_rest(), critical)

    def body(self) -> bytes:
        return bytes((self.encoding,)) + self.data


@dataclass(slots=True, frozen=True)
class CertReqPayload(CertPayload):
    """CERTREQ (§3.7): for X.509, `data` is a concatenation of 20-byte SHA-1 key hashes."""

    payload_type: ClassVar[int] = PayloadType.CERTREQ


@dataclass(slots=True, frozen=True)
class AuthPayload(Payload):
    payload_type: ClassVar[int] = PayloadType.AUTH
    method: int
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "AuthPayload":
        (method,) = buf.pull_struct(_Bxxx, "AUTH header")
        return cls(method, buf.pull_rest(), critical)

    def body(self) -> bytes:
        return _Bxxx.pack(self.method) + self.data


@dataclass(slots=True, frozen=True)
class NoncePayload(Payload):
    payload_type: ClassVar[int] = PayloadType.NONCE
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "NoncePayload":
        n = buf.remaining()
        if not NONCE_MIN <= n <= NONCE_MAX:
            raise ParseError(f"nonce of {n} bytes, must be {NONCE_MIN}..{NONCE_MAX}")
        return cls(buf.pull_rest(), critical)

    def body(self) -> bytes:
        return self.data


@dataclass(slots=True, frozen=True)
class NotifyPayload(Payload):
    """Notify (§3.10). `protocol` is 0 and `spi` empty unless the notify concerns an SA."""

    payload_type: ClassVar[int] = PayloadType.NOTIFY
    notify_type: int
    data: bytes = b""
    protocol: int = ProtocolId.NONE
    spi: bytes = b""
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "NotifyPayload":
        protocol, spi_size, ntype = buf.pull_struct(_BBH, "Notify header")
        if spi_size not in (0, 4, 8):
            raise ParseError(f"Notify SPI size {spi_size} (must be 0, 4 or 8)")
        spi = buf.pull_bytes(spi_size, "Notify SPI")
        return cls(ntype, buf.pull_rest(), protocol, spi, critical)

    def body(self) -> bytes:
        return _BBH.pack(self.protocol, len(self.spi), self.notify_type) + self.spi + self.data

    # -- convenience ---------------------------------------------------------------------
    @property
    def is_error(self) -> bool:
        return self.notify_type <= NOTIFY_ERROR_MAX

    @property
    def spi_int(self) -> int | None:
        return int.from_bytes(self.spi, "big") if self.spi else None

    @classmethod
    def of(cls, notify_type: int, data: bytes = b"") -> "NotifyPayload":
        """A notify that concerns no particular SA (protocol 0, no SPI)."""
        return cls(notify_type, data)

    @classmethod
    def for_child(
        cls, notify_type: int, protocol: int, spi: int, data: bytes = b""
    ) -> "NotifyPayload":
        """A notify about a Child SA, e.g. REKEY_SA or CHILD_SA_NOT_FOUND (4-byte SPI)."""
        return cls(notify_type, data, protocol, spi.to_bytes(4, "big"))

    @classmethod
    def invalid_ke(cls, group: int) -> "NotifyPayload":
        return cls(NotifyType.INVALID_KE_PAYLOAD, _H.pack(group))

    @classmethod
    def cookie(cls, cookie: bytes) -> "NotifyPayload":
        return cls(NotifyType.COOKIE, cookie)

    @classmethod
    def rekey_sa(cls, protocol: int, spi: int) -> "NotifyPayload":
        return cls.for_child(NotifyType.REKEY_SA, protocol, spi)

    @classmethod
    def signature_hash_algorithms(cls, algorithms: "list[int]") -> "NotifyPayload":
        return cls(NotifyType.SIGNATURE_HASH_ALGORITHMS, b"".join(_H.pack(a) for a in algorithms))

    def uint16_list(self) -> "tuple[int, ...]":
        """Data as 16-bit numbers (INVALID_KE_PAYLOAD group, SIGNATURE_HASH_ALGORITHMS)."""
        d = self.data
        if len(d) % 2:
            raise ParseError(f"notify {self.notify_type} data of odd length {len(d)}")
        return struct.unpack(f"!{len(d) // 2}H", d)

    def requested_group(self) -> int:
        """The group an INVALID_KE_PAYLOAD asks for."""
        if len(self.data) != 2:
            raise ParseError("INVALID_KE_PAYLOAD data must be 2 bytes")
        group: int = _H.unpack(self.data)[0]
        return group

    def address(self) -> "ipaddress.IPv4Address | ipaddress.IPv6Address":
        """ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS (RFC 4555) data."""
        if len(self.data) not in (4, 16):
            raise ParseError(f"notify address of {len(self.data)} bytes")
        return ipaddress.ip_address(self.data)


Notify = NotifyPayload


@dataclass(slots=True, frozen=True)
class DeletePayload(Payload):
    """Delete (§3.11). For the IKE SA: protocol IKE, SPI size 0, no SPIs."""

    payload_type: ClassVar[int] = PayloadType.DELETE
    protocol: int
    spi_size: int = 0
    spis: "tuple[bytes, ...]" = ()
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "DeletePayload":
        protocol, spi_size, count = buf.pull_struct(_BBH, "Delete header")
        if protocol == ProtocolId.IKE and (spi_size or count):
            raise ParseError("IKE SA Delete must have SPI size 0 and no SPIs")
        if protocol in (ProtocolId.AH, ProtocolId.ESP) and spi_size != 4:
            raise ParseError(f"Child SA Delete with SPI size {spi_size}")
        if count and not spi_size:  # else 4 bytes could ask for 65,535 empty SPIs
            raise ParseError(f"Delete of {count} SPIs of 0 bytes")
        if buf.remaining() != spi_size * count:
            raise ParseError(
                f"Delete of {count} SPIs of {spi_size} bytes but {buf.remaining()} bytes follow"
            )
        spis = tuple(buf.pull_bytes(spi_size, "Delete SPI") for _ in range(count))
        return cls(protocol, spi_size, spis, critical)

    def body(self) -> bytes:
        return _BBH.pack(self.protocol, self.spi_size, len(self.spis)) + b"".join(self.spis)

    @classmethod
    def ike(cls) -> "DeletePayload":
        return cls(ProtocolId.IKE)

    @classmethod
    def child(cls, protocol: int, spis: "list[int]") -> "DeletePayload":
        return cls(protocol, 4, tuple(s.to_bytes(4, "big") for s in spis))

    def spi_ints(self) -> "list[int]":
        return [int.from_bytes(s, "big") for s in self.spis]


@dataclass(slots=True, frozen=True)
class VendorIdPayload(Payload):
    payload_type: ClassVar[int] = PayloadType.VENDOR_ID
    data: bytes
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "VendorIdPayload":
        return cls(buf.pull_rest(), critical)

    def body(self) -> bytes:
        return self.data


@dataclass(slots=True, frozen=True)
class EncryptedPayload(Payload):
    """SK (§3.14), undecrypted: `data` is IV | ciphertext | ICV. Always the last payload;
    its generic header's next-payload field names the first payload inside."""

    payload_type: ClassVar[int] = PayloadType.SK
    first_inner_type: int
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "EncryptedPayload":
        raise AssertionError("SK is parsed by message, which knows the next-payload field")

    def body(self) -> bytes:
        return self.data


@dataclass(slots=True, frozen=True)
class EncryptedFragmentPayload(Payload):
    """SKF (RFC 7383 §2.5): fragment `number` of `total` (1-based), IV | ciphertext | ICV."""

    payload_type: ClassVar[int] = PayloadType.SKF
    first_inner_type: int
    number: int
    total: int
    data: bytes = field(repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "EncryptedFragmentPayload":
        raise AssertionError("SKF is parsed by message, which knows the next-payload field")

    @classmethod
    def parse_with_next(
        cls, buf: Buffer, first_inner: int, critical: bool
    ) -> "EncryptedFragmentPayload":
        number, total = buf.pull_struct(_HH, "SKF header")
        if number == 0 or number > total:
            raise ParseError(f"SKF fragment number {number} of {total}")
        return cls(first_inner, number, total, buf.pull_rest(), critical)

    def body(self) -> bytes:
        return _HH.pack(self.number, self.total) + self.data
