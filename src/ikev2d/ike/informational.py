"""INFORMATIONAL requests from the client (RFC 7296 §1.4): Delete, liveness checks, and the
client refusing our IKE_AUTH answer.

{ D(IKE) } -->                 <-- { }            the IKE SA and its children end
{ D(ESP, SPIs) } -->           <-- { D(ESP, our SPIs) }
{ } -->                        <-- { }            liveness (DPD)
{ N(AUTHENTICATION_FAILED) } --> <-- { }          §2.21.2: the client could not verify our
                                                  AUTH; on a fresh IKE SA it ends at once
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikev2d.wire.enums import ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.payloads import DeletePayload, NotifyPayload, Payload

from .rules import check_request
from .sa import ChildSa, IkeSa

__all__ = ["InfoResult", "handle_informational", "refusal_reason"]


@dataclass(slots=True)
class InfoResult:
    payloads: list[Payload] = field(default_factory=list)
    delete_ike: bool = False
    removed: list[ChildSa] = field(default_factory=list)
    update_addresses: bool = False  # RFC 4555 UPDATE_SA_ADDRESSES
    refused_us: bool = False  # N(AUTHENTICATION_FAILED): the client does not accept our AUTH


def handle_informational(sa: IkeSa, inner: list[Payload]) -> InfoResult:
    check_request(ExchangeType.INFORMATIONAL, inner)
    result = InfoResult()
    result.update_addresses = any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.UPDATE_SA_ADDRESSES
        for p in inner
    )
    result.refused_us = any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.AUTHENTICATION_FAILED
        for p in inner
    )
    deletes = [p for p in inner if isinstance(p, DeletePayload)]
    if any(d.protocol == ProtocolId.IKE for d in deletes):
        result.delete_ike = True
        return result
    ours: list[int] = []
    for d in deletes:
        if d.protocol != ProtocolId.ESP:
            continue  # AH is never negotiated: nothing of ours to delete (§1.4.1)
        for spi in d.spi_ints():
            child = next((c for c in sa.children if c.spec.outbound_spi == spi), None)
            if child is not None and child not in result.removed:
                result.removed.append(child)
                ours.append(child.spec.inbound_spi)
    if ours:
        result.payloads.append(DeletePayload.child(ProtocolId.ESP, ours))
    return result


def refusal_reason(method: str | None) -> str:
    """Why a client sends N(AUTHENTICATION_FAILED) about us, in words for the status page."""
    hint = (
        "is the client's pre-shared key the same?"
        if method == "psk"
        else "does it trust our CA and use the server name in our certificate?"
    )
    return f"the client refused the server's authentication (AUTHENTICATION_FAILED): {hint}"
