"""Which payloads a request may carry, as data (RFC 7296 §1.2-§1.5, §3).

One table per exchange: payload type -> (minimum, maximum) count. Checked once, before any
handler runs; a violation is INVALID_SYNTAX, an unknown critical payload
UNSUPPORTED_CRITICAL_PAYLOAD. Unknown non-critical payloads are ignored (§2.5).
"""

from __future__ import annotations

from ikev2d.wire.enums import ExchangeType, PayloadType
from ikev2d.wire.payloads import Payload, UnknownPayload

from .errors import InvalidSyntax, UnsupportedCriticalPayload

__all__ = ["EAP_ROUND_RULES", "REQUEST_RULES", "check_request"]

ANY = 64  # "any number": bounded so a crafted message cannot make us do unbounded work
P = PayloadType

REQUEST_RULES: dict[int, dict[int, tuple[int, int]]] = {
    ExchangeType.IKE_SA_INIT: {
        P.SA: (1, 1),
        P.KE: (1, 1),
        P.NONCE: (1, 1),
        P.NOTIFY: (0, ANY),
        P.VENDOR_ID: (0, ANY),
        P.CERTREQ: (0, ANY),
    },
    # the decrypted inside of IKE_AUTH
    ExchangeType.IKE_AUTH: {
        P.IDi: (1, 1),
        P.IDr: (0, 1),
        P.AUTH: (0, 1),  # absent: the client asks for EAP (§2.16)
        P.CERT: (0, 4),
        P.CERTREQ: (0, ANY),
        P.CP: (0, 1),
        P.SA: (0, 1),
        P.TSi: (0, 1),
        P.TSr: (0, 1),
        P.EAP: (0, 1),
        P.NOTIFY: (0, ANY),
        P.VENDOR_ID: (0, ANY),
    },
    # RFC 9242/9370: one additional key exchange each (or none, for other data)
    ExchangeType.IKE_INTERMEDIATE: {
        P.KE: (0, 1),
        P.NOTIFY: (0, ANY),
        P.VENDOR_ID: (0, ANY),
    },
    ExchangeType.IKE_FOLLOWUP_KE: {  # RFC 9370 §2.2.4, linked by N(ADDITIONAL_KEY_EXCHANGE)
        P.KE: (1, 1),
        P.NOTIFY: (1, ANY),
        P.VENDOR_ID: (0, ANY),
    },
    ExchangeType.INFORMATIONAL: {
        P.DELETE: (0, ANY),
        P.NOTIFY: (0, ANY),
        P.CP: (0, 1),
        P.VENDOR_ID: (0, ANY),
    },
    ExchangeType.CREATE_CHILD_SA: {
        P.SA: (1, 1),
        P.NONCE: (1, 1),
        P.KE: (0, 1),
        P.TSi: (0, 1),
        P.TSr: (0, 1),
        P.NOTIFY: (0, ANY),
        P.VENDOR_ID: (0, ANY),
    },
}


# later IKE_AUTH rounds of EAP (§2.16): an EAP payload, then finally the MSK-based AUTH
EAP_ROUND_RULES: dict[int, tuple[int, int]] = {
    P.EAP: (0, 1),
    P.AUTH: (0, 1),
    P.NOTIFY: (0, ANY),
    P.VENDOR_ID: (0, ANY),
}


def check_request(
    exchange: int,
    payloads: list[Payload] | tuple[Payload, ...],
    rules: dict[int, tuple[int, int]] | None = None,
) -> None:
    rules = rules if rules is not None else REQUEST_RULES.get(exchange)
    if rules is None:
        raise InvalidSyntax(f"exchange type {exchange} is not handled")
    counts: dict[int, int] = {}
    for p in payloads:
        if isinstance(p, UnknownPayload):
            if p.critical:
                raise UnsupportedCriticalPayload(p.payload_type)
            continue
        t = int(p.payload_type)
        if t not in rules:
            raise InvalidSyntax(f"payload type {t} not allowed in exchange {exchange}")
        counts[t] = counts.get(t, 0) + 1
    for t, (lo, hi) in rules.items():
        n = counts.get(t, 0)
        if not lo <= n <= hi:
            raise InvalidSyntax(f"{n} payloads of type {t} in exchange {exchange}")
