"""The EAP payload (RFC 7296 §3.16): one EAP message (RFC 3748 §4)."""

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from .buffer import Buffer
from .enums import EapCode, PayloadType
from .errors import ParseError
from .payloads import Payload

__all__ = ["EapPayload"]

_EAP_HEAD = struct.Struct("!BBH")
_NO_TYPE = (EapCode.SUCCESS, EapCode.FAILURE)


@dataclass(slots=True, frozen=True)
class EapPayload(Payload):
    """An EAP message. Success and Failure carry no type (`eap_type` None, no data)."""

    payload_type: ClassVar[int] = PayloadType.EAP
    code: int
    identifier: int
    eap_type: int | None = None
    type_data: bytes = field(default=b"", repr=False)
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "EapPayload":
        total = buf.remaining()
        code, ident, length = buf.pull_struct(_EAP_HEAD, "EAP header")
        if length != total:
            raise ParseError(f"EAP length {length} but payload carries {total} bytes")
        if code in _NO_TYPE:
            if length != 4:
                raise ParseError(f"EAP Success/Failure of length {length}")
            return cls(code, ident, None, b"", critical)
        eap_type = buf.pull_uint8("EAP type")
        return cls(code, ident, eap_type, buf.pull_rest(), critical)

    def body(self) -> bytes:
        return self.message()

    def message(self) -> bytes:
        """The EAP packet itself (what the EAP method and MSK computations see)."""
        if self.eap_type is None:
            return _EAP_HEAD.pack(self.code, self.identifier, 4)
        return (
            _EAP_HEAD.pack(self.code, self.identifier, 5 + len(self.type_data))
            + bytes((self.eap_type,))
            + self.type_data
        )
