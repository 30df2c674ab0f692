"""Errors raised by the crypto room.

Each carries the notify the IKE layer should answer with (style note 8); the ike room catches
them in its one error handler. Messages never contain key material.
"""

from __future__ import annotations

from ikev2d.wire.enums import NotifyType

__all__ = [
    "CryptoError",
    "DecryptError",
    "IntegrityError",
    "InvalidKeData",
    "UnsupportedTransform",
]


class CryptoError(Exception):
    """Base class of every error this room raises on purpose."""

    notify: NotifyType | None = None


class UnsupportedTransform(CryptoError, ValueError):
    """A transform id (or group) that this implementation does not offer."""

    notify = NotifyType.NO_PROPOSAL_CHOSEN


class InvalidKeData(CryptoError):
    """The peer's KE data failed validation (RFC 7296 §5.10, NIST SP 800-56A, RFC 6989).

    The group itself was acceptable, so asking for another group (the INVALID_KE_PAYLOAD
    notify, `ike.errors.InvalidKePayload`) would not help: the exchange is answered with
    INVALID_SYNTAX. `group` is the KE method id.
    """

    notify = NotifyType.INVALID_SYNTAX

    def __init__(self, group: int, reason: str) -> None:
        super().__init__(f"invalid KE data for group {int(group)}: {reason}")
        self.group = int(group)
        self.reason = reason


class IntegrityError(CryptoError):
    """An SK/SKF payload failed its ICV/tag check, was truncated, or had bad padding.

    One type for every way decryption can fail, so callers cannot leak which check failed.
    RFC 7296 §2.21.2: such a message is dropped silently, hence no notify.
    """


DecryptError = IntegrityError
