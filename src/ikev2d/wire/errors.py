"""The single exception type every decoder in `wire` raises on malformed input."""

__all__ = ["ParseError"]


class ParseError(Exception):
    """Malformed IKEv2 data. `reason` is a short human-readable explanation.

    The IKE layer answers INVALID_SYNTAX (or drops the message) when it sees this; it never
    needs to catch anything else from the codec.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
