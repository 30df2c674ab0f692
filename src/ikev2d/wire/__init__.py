"""IKEv2 wire codec: bytes in, typed frozen objects out, and back (RFC 7296, 7383, 4555).

Submodules: `enums` (IANA numbers), `errors` (ParseError), `buffer`, `payloads` (simple
payloads), `sa`, `ts`, `cp`, `eap`, `message` (header, chain, encode/decode), `nat_t`.
"""

from .cp import CfgAttribute, CpPayload
from .eap import EapPayload
from .errors import ParseError
from .message import (
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
    peek_header,
)
from .payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdiPayload,
    IdPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    Notify,
    NotifyPayload,
    Payload,
    UnknownPayload,
    VendorIdPayload,
)
from .sa import Attribute, Proposal, SaPayload, Transform
from .ts import TrafficSelector, TsiPayload, TsPayload, TsrPayload, UnknownSelector

__all__ = [
    "Attribute",
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "CfgAttribute",
    "CpPayload",
    "DeletePayload",
    "EapPayload",
    "EncryptedFragmentPayload",
    "EncryptedPayload",
    "Header",
    "IdPayload",
    "IdiPayload",
    "IdrPayload",
    "KePayload",
    "Message",
    "NoncePayload",
    "Notify",
    "NotifyPayload",
    "ParseError",
    "Payload",
    "Proposal",
    "SaPayload",
    "TrafficSelector",
    "Transform",
    "TsPayload",
    "TsiPayload",
    "TsrPayload",
    "UnknownPayload",
    "UnknownSelector",
    "VendorIdPayload",
    "decode_message",
    "decode_payloads",
    "encode_message",
    "encode_payloads",
    "peek_header",
]
