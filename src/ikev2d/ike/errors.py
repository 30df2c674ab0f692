"""Errors of the IKE layer, each carrying the notify that answers it (RFC 7296 §3.10.1).

They are raised by the exchange handlers and caught in exactly one place, the responder's
dispatch, which answers with the notify and cleans up. Anything else that escapes a handler is
a bug: it is not turned into a notify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ikev2d.wire.enums import NotifyType

if TYPE_CHECKING:
    from ikev2d.wire.eap import EapPayload
    from ikev2d.wire.payloads import Payload

__all__ = [
    "AuthenticationFailed",
    "ChildSaNotFound",
    "FailedCpRequired",
    "IkeError",
    "InternalAddressFailure",
    "InvalidKePayload",
    "InvalidSyntax",
    "KernelRefused",
    "NoProposalChosen",
    "StateNotFound",
    "TemporaryFailure",
    "TsUnacceptable",
    "UnsupportedCriticalPayload",
]


class IkeError(Exception):
    """Base: `notify` is the NotifyType to answer with; `data` its notification data.

    `code` names the failure for programs (the status contract's reason codes, e.g.
    ``psk_wrong``); without one it is the notify's name in lower case. `reason` is for people.
    """

    notify: NotifyType = NotifyType.INVALID_SYNTAX

    def __init__(
        self, reason: str, data: bytes = b"", *, extra: tuple[Payload, ...] = (), code: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data
        self.extra = extra  # payloads answered before the notify (e.g. EAP-Failure)
        self.code = code or self.notify.name.lower()


class InvalidSyntax(IkeError):
    notify = NotifyType.INVALID_SYNTAX


class UnsupportedCriticalPayload(IkeError):
    notify = NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD

    def __init__(self, payload_type: int) -> None:
        # §3.10.1: the data is the one-octet payload type.
        super().__init__(f"critical payload type {payload_type}", bytes([payload_type & 0xFF]))


class NoProposalChosen(IkeError):
    notify = NotifyType.NO_PROPOSAL_CHOSEN


class InvalidKePayload(IkeError):
    """The KE group sent is not the one we select; `group` is the one we want."""

    notify = NotifyType.INVALID_KE_PAYLOAD

    def __init__(self, group: int, reason: str) -> None:
        super().__init__(reason, group.to_bytes(2, "big"))
        self.group = group


class AuthenticationFailed(IkeError):
    notify = NotifyType.AUTHENTICATION_FAILED

    def __init__(self, reason: str, *, eap_reply: EapPayload | None = None, code: str = "") -> None:
        super().__init__(reason, extra=(eap_reply,) if eap_reply is not None else (), code=code)


class TsUnacceptable(IkeError):
    notify = NotifyType.TS_UNACCEPTABLE


class InternalAddressFailure(IkeError):
    notify = NotifyType.INTERNAL_ADDRESS_FAILURE


class FailedCpRequired(IkeError):
    notify = NotifyType.FAILED_CP_REQUIRED


class TemporaryFailure(IkeError):
    """Not now, maybe later (§2.25: a colliding exchange; too much unfinished)."""

    notify = NotifyType.TEMPORARY_FAILURE


class ChildSaNotFound(IkeError):
    notify = NotifyType.CHILD_SA_NOT_FOUND


class StateNotFound(IkeError):
    """RFC 9370: an IKE_FOLLOWUP_KE for no unfinished exchange."""

    notify = NotifyType.STATE_NOT_FOUND


class KernelRefused(IkeError):
    """The datapath could not give us what a Child SA needs (an SPI): try again later."""

    notify = NotifyType.TEMPORARY_FAILURE
