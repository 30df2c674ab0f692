"""Raw EAP packets (RFC 3748 §4) as the IKE layer exchanges them, and EAP-Identity (§5.1).

The IKE responder starts with EAP-Request/Identity unless the initiator's IDi already names
the EAP identity (strongSwan's eap-identity behaviour), then runs the method. Success and
Failure carry the identifier of the Response they answer (RFC 3748 §4.2).
"""

import struct
from dataclasses import dataclass, field

from ikev2d.wire.enums import EapCode, EapType

__all__ = [
    "MAX_IDENTITY_OCTETS",
    "EapPacket",
    "eap_failure",
    "eap_request",
    "eap_success",
    "identity_request",
    "parse_eap",
    "parse_identity_response",
]

_HEAD = struct.Struct("!BBH")
MAX_IDENTITY_OCTETS = 253  # an NAI fits (RFC 7542 §2.2); longer identities are refused


@dataclass(slots=True, frozen=True)
class EapPacket:
    """A decoded EAP packet; `eap_type` is None for Success/Failure."""

    code: int
    identifier: int
    eap_type: int | None
    type_data: bytes = field(repr=False)


def parse_eap(data: bytes) -> EapPacket | None:
    """Decode an EAP packet, or None if its framing is wrong (never raises)."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) < _HEAD.size:
        return None
    code, identifier, length = _HEAD.unpack_from(data, 0)
    if length != len(data):
        return None
    if code in (EapCode.SUCCESS, EapCode.FAILURE):
        return EapPacket(code, identifier, None, b"") if length == 4 else None
    if code not in (EapCode.REQUEST, EapCode.RESPONSE) or length < 5:
        return None
    return EapPacket(code, identifier, data[4], bytes(data[5:]))


def eap_request(identifier: int, eap_type: int, type_data: bytes) -> bytes:
    return (
        _HEAD.pack(EapCode.REQUEST, identifier & 0xFF, 5 + len(type_data))
        + bytes((eap_type,))
        + type_data
    )


def eap_success(identifier: int) -> bytes:
    return _HEAD.pack(EapCode.SUCCESS, identifier & 0xFF, 4)


def eap_failure(identifier: int) -> bytes:
    return _HEAD.pack(EapCode.FAILURE, identifier & 0xFF, 4)


def identity_request(identifier: int) -> bytes:
    """EAP-Request/Identity with no display message."""
    return eap_request(identifier, EapType.IDENTITY, b"")


def parse_identity_response(data: bytes, identifier: int) -> str | None:
    """The identity from an EAP-Response/Identity to our request `identifier`, or None.

    None covers every refusal: bad framing, another code/type/identifier, an empty or overlong
    identity, invalid UTF-8 or control characters (the name ends up in logs and status).
    """
    packet = parse_eap(data)
    if (
        packet is None
        or packet.code != EapCode.RESPONSE
        or packet.identifier != identifier
        or packet.eap_type != EapType.IDENTITY
    ):
        return None
    raw = packet.type_data.rstrip(b"\x00")  # some peers NUL-terminate
    if not 0 < len(raw) <= MAX_IDENTITY_OCTETS:
        return None
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if name.isprintable() else None
