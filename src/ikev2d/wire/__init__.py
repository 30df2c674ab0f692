"""IKEv2 wire codec: bytes in, typed frozen objects out, and back (RFC 7296, 7383, 4555).

Submodules: `enums` (IANA numbers), `errors` (ParseError), `buffer`, `payloads` (simple
payloads), `sa`, `ts`, `cp`, `eap`, `message` (header, chain, encode/decode), `nat_t`.

The names below are loaded with the submodule that defines them when first asked for (PEP 562):
`import ikev2d.wire.enums` (the configuration, the transform registry) does not build the
codec's payload classes, which a daemon needs only with its first datagram (issue 17, start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_DEFINED_IN = {
    "Attribute": "sa",
    "AuthPayload": "payloads",
    "CertPayload": "payloads",
    "CertReqPayload": "payloads",
    "CfgAttribute": "cp",
    "CpPayload": "cp",
    "DeletePayload": "payloads",
    "EapPayload": "eap",
    "EncryptedFragmentPayload": "payloads",
    "EncryptedPayload": "payloads",
    "Header": "message",
    "IdPayload": "payloads",
    "IdiPayload": "payloads",
    "IdrPayload": "payloads",
    "KePayload": "payloads",
    "Message": "message",
    "NoncePayload": "payloads",
    "Notify": "payloads",
    "NotifyPayload": "payloads",
    "ParseError": "errors",
    "Payload": "payloads",
    "Proposal": "sa",
    "SaPayload": "sa",
    "TrafficSelector": "ts",
    "Transform": "sa",
    "TsPayload": "ts",
    "TsiPayload": "ts",
    "TsrPayload": "ts",
    "UnknownPayload": "payloads",
    "UnknownSelector": "ts",
    "VendorIdPayload": "payloads",
    "decode_message": "message",
    "decode_payloads": "message",
    "encode_message": "message",
    "encode_payloads": "message",
    "peek_header": "message",
}


def __getattr__(name: str) -> Any:
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
