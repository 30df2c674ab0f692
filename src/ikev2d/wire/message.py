"""IKEv2 messages (RFC 7296 §3.1-§3.2): the header, the payload chain, encode and decode.

Decoding is strict: the header length must equal the datagram length, each payload's length
must lie within the message, the chain must end exactly at the end, and SK/SKF must be last.
A chain of more than MAX_PAYLOADS payloads is refused before the rest is read: no client sends
a quarter of that, and a 64 KB datagram of empty payloads would otherwise cost 16,000 objects.
Any malformed input raises `ParseError`; nothing else escapes.
"""

import struct
from dataclasses import dataclass
from typing import TypeVar

from .buffer import Buffer
from .cp import CpPayload
from .eap import EapPayload
from .enums import PayloadType
from .errors import ParseError
from .payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    UnknownPayload,
    VendorIdPayload,
)
from .sa import SaPayload
from .ts import TsiPayload, TsrPayload

__all__ = [
    "HEADER_SIZE",
    "IKE_MAJOR_VERSION",
    "MAX_PAYLOADS",
    "Header",
    "Message",
    "decode_message",
    "decode_payloads",
    "encode_message",
    "encode_payloads",
    "peek_header",
]

HEADER_SIZE = 28
IKE_MAJOR_VERSION = 2
MAX_PAYLOADS = 64  # per chain (the message, or the inside of SK); real clients send < 20
_HEADER = struct.Struct("!8s8sBBBBLL")
_GENERIC = struct.Struct("!BBH")
_FLAG_INITIATOR, _FLAG_VERSION, _FLAG_RESPONSE = 0x08, 0x10, 0x20
_CRITICAL = 0x80
_MAX_PAYLOAD = 0xFFFF

_PARSERS: dict[int, type[Payload]] = {
    cls.payload_type: cls
    for cls in (
        SaPayload,
        KePayload,
        IdiPayload,
        IdrPayload,
        CertPayload,
        CertReqPayload,
        AuthPayload,
        NoncePayload,
        NotifyPayload,
        DeletePayload,
        VendorIdPayload,
        TsiPayload,
        TsrPayload,
        CpPayload,
        EapPayload,
    )
}
_SK, _SKF = int(PayloadType.SK), int(PayloadType.SKF)

P = TypeVar("P", bound=Payload)


@dataclass(slots=True, frozen=True)
class Header:
    """The IKE header. `next_payload` and `length` are filled in by `encode_message`."""

    spi_i: bytes
    spi_r: bytes
    exchange: int
    message_id: int
    initiator: bool = False
    response: bool = False
    next_payload: int = 0
    length: int = 0
    major_version: int = IKE_MAJOR_VERSION
    minor_version: int = 0
    version_flag: bool = False  # "V": sender could speak a higher major version

    @property
    def version(self) -> int:
        return (self.major_version << 4) | self.minor_version

    @property
    def flags(self) -> int:
        return (
            (_FLAG_INITIATOR if self.initiator else 0)
            | (_FLAG_VERSION if self.version_flag else 0)
            | (_FLAG_RESPONSE if self.response else 0)
        )

    def encode(self, next_payload: int | None = None, length: int | None = None) -> bytes:
        """The 28 header bytes; `next_payload`/`length` override the stored values."""
        if len(self.spi_i) != 8 or len(self.spi_r) != 8:
            raise ValueError("IKE SPIs must be 8 bytes")
        return _HEADER.pack(
            self.spi_i,
            self.spi_r,
            self.next_payload if next_payload is None else next_payload,
            self.version,
            self.exchange,
            self.flags,
            self.message_id,
            self.length if length is None else length,
        )


def peek_header(data: bytes | memoryview) -> Header:
    """Parse only the fixed header, whatever its version, so a caller can answer
    INVALID_MAJOR_VERSION or route by SPI before decoding the rest."""
    if len(data) < HEADER_SIZE:
        raise ParseError(f"message of {len(data)} bytes is shorter than the IKE header")
    spi_i, spi_r, nxt, version, exchange, flags, mid, length = _HEADER.unpack_from(data)
    return Header(
        spi_i,
        spi_r,
        exchange,
        mid,
        bool(flags & _FLAG_INITIATOR),
        bool(flags & _FLAG_RESPONSE),
        nxt,
        length,
        version >> 4,
        version & 0x0F,
        bool(flags & _FLAG_VERSION),
    )


@dataclass(slots=True, frozen=True)
class Message:
    header: Header
    payloads: "tuple[Payload, ...]"

    def get(self, cls: type[P]) -> P | None:
        """The first payload of class `cls`, or None."""
        for p in self.payloads:
            if isinstance(p, cls):
                return p
        return None

    def all(self, cls: type[P]) -> "list[P]":
        return [p for p in self.payloads if isinstance(p, cls)]

    def notify(self, notify_type: int) -> NotifyPayload | None:
        for p in self.payloads:
            if isinstance(p, NotifyPayload) and p.notify_type == notify_type:
                return p
        return None

    def unknown_critical(self) -> "list[UnknownPayload]":
        """Unrecognised payloads with the critical bit set (→ UNSUPPORTED_CRITICAL_PAYLOAD)."""
        return [p for p in self.payloads if isinstance(p, UnknownPayload) and p.critical]


def _decode_chain(
    data: bytes | memoryview, pos: int, end: int, next_type: int, allow_encrypted: bool
) -> "list[Payload]":
    payloads: list[Payload] = []
    parsers = _PARSERS
    while next_type:
        if len(payloads) == MAX_PAYLOADS:
            raise ParseError(f"more than {MAX_PAYLOADS} payloads")
        if end - pos < 4:
            raise ParseError(f"truncated generic payload header of payload type {next_type}")
        nxt, flags, length = _GENERIC.unpack_from(data, pos)
        pend = pos + length
        if length < 4 or pend > end:
            raise ParseError(f"payload type {next_type} length {length} exceeds the message")
        critical = bool(flags & _CRITICAL)
        if next_type in (_SK, _SKF):
            if not allow_encrypted:
                raise ParseError("encrypted payload inside an encrypted payload")
            if pend != end:
                raise ParseError("SK/SKF payload is not the last payload")
            buf = Buffer(data, pos + 4, pend)
            if next_type == _SK:
                payloads.append(EncryptedPayload(nxt, buf.pull_rest(), critical))
            else:
                payloads.append(EncryptedFragmentPayload.parse_with_next(buf, nxt, critical))
            return payloads
        cls = parsers.get(next_type)
        if cls is None:
            payloads.append(UnknownPayload(next_type, critical, bytes(data[pos + 4 : pend])))
        else:
            payloads.append(cls.parse(Buffer(data, pos + 4, pend), critical))
        pos, next_type = pend, nxt
    if pos != end:
        raise ParseError(f"{end - pos} bytes after the last payload")
    return payloads


def decode_message(data: bytes | memoryview) -> Message:
    """Decode a whole IKEv2 message (major version 2); SK contents stay encrypted."""
    header = peek_header(data)
    if header.major_version != IKE_MAJOR_VERSION:
        raise ParseError(f"IKE major version {header.major_version}")
    if header.length != len(data):
        raise ParseError(f"header length {header.length} but datagram has {len(data)} bytes")
    payloads = _decode_chain(data, HEADER_SIZE, len(data), header.next_payload, True)
    return Message(header, tuple(payloads))


def decode_payloads(first_type: int, data: bytes | memoryview) -> "list[Payload]":
    """Decode a bare payload chain: the plaintext of an SK payload (or reassembled SKFs)."""
    return _decode_chain(data, 0, len(data), first_type, False)


def encode_payloads(payloads: "list[Payload] | tuple[Payload, ...]") -> "tuple[int, bytes]":
    """Encode a payload chain; returns (type of the first payload, bytes). An SK/SKF payload
    may only be the last one; its next-payload field is its `first_inner_type`."""
    parts = []
    n = len(payloads)
    for i, p in enumerate(payloads):
        body = p.body()
        if len(body) + 4 > _MAX_PAYLOAD:
            raise ValueError(f"payload {p.payload_type} too long ({len(body)} bytes)")
        encrypted = isinstance(p, EncryptedPayload | EncryptedFragmentPayload)
        if i < n - 1:
            if encrypted:
                raise ValueError("an SK/SKF payload must be the last payload")
            nxt = payloads[i + 1].payload_type
        elif isinstance(p, EncryptedPayload | EncryptedFragmentPayload):
            nxt = p.first_inner_type
        else:
            nxt = 0
        parts.append(_GENERIC.pack(nxt, _CRITICAL if p.critical else 0, 4 + len(body)))
        parts.append(body)
    return (payloads[0].payload_type if n else 0), b"".join(parts)


def encode_message(msg: Message) -> bytes:
    """Encode a message, filling the header's next-payload and length fields."""
    first, body = encode_payloads(msg.payloads)
    return msg.header.encode(first, HEADER_SIZE + len(body)) + body
