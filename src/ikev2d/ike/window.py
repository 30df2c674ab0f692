"""The message-ID windows of one IKE SA (RFC 7296 §2.3), window size 1 in both directions.

The peer's requests: each message ID is answered once, in order; a retransmission of the
request last answered gets the same response again (§2.1), unless that response is held back
for a while (an EAP retry after a wrong password: `DelayedResponse`).

Our own requests: one in flight (`PendingRequest`, retransmitted with exponential back-off
until answered or given up), the others wait in order (`QueuedRequest`).

"A request is in flight" is this module's state, never the SA lifecycle's (`sa.SaState`).
Nothing here seals or sends: the responder protects the messages and sends what is decided.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ikev2d.wire.payloads import Payload

    from .events import Address

__all__ = [
    "DelayedResponse",
    "MessageWindow",
    "OnResponse",
    "PendingRequest",
    "QueuedRequest",
    "RequestVerdict",
]

# finishes an exchange of ours: (the response's decrypted payloads, now)
OnResponse = Callable[[list["Payload"], float], None]


# Plain classes with __slots__, not dataclasses: this module is on the daemon's start path, where
# each dataclass costs ~1 ms to build and the dataclasses module ~1.8 MB (docs/benchmarks.md).
class PendingRequest:
    """A request we sent and keep retransmitting until its response arrives.

    `on_response(inner payloads, now)` finishes the exchange; no answer after the configured
    tries ends the IKE SA."""

    __slots__ = ("datagrams", "kind", "message_id", "next_send", "on_response", "tries")

    def __init__(
        self,
        message_id: int,
        datagrams: list[bytes],
        next_send: float,
        kind: str,
        on_response: OnResponse | None = None,
        tries: int = 1,
    ) -> None:
        self.message_id = message_id
        self.datagrams = datagrams
        self.next_send = next_send
        self.kind = kind
        self.on_response = on_response
        self.tries = tries


class QueuedRequest:
    """A request of ours waiting for the one in flight to be answered."""

    __slots__ = ("exchange", "kind", "on_response", "payloads")

    def __init__(
        self,
        exchange: int,
        payloads: list[Payload],
        kind: str,
        on_response: OnResponse | None = None,
    ) -> None:
        self.exchange = exchange
        self.payloads = payloads
        self.kind = kind
        self.on_response = on_response


class DelayedResponse:
    """A response held back until `due` (sent from `local` to `remote`)."""

    __slots__ = ("datagrams", "due", "local", "remote")

    def __init__(self, due: float, datagrams: list[bytes], local: Address, remote: Address) -> None:
        self.due = due
        self.datagrams = datagrams
        self.local = local
        self.remote = remote


class RequestVerdict(enum.Enum):
    """What a request's message ID means: answer it, resend the last answer, or drop it."""

    NEW = "new"
    RETRANSMITTED = "retransmitted"
    OUT_OF_WINDOW = "out of window"


class MessageWindow:
    __slots__ = ("delayed", "last_response", "last_response_id", "next_own_id",
                 "next_request_id", "pending", "queued")  # fmt: skip

    def __init__(self, next_request_id: int = 1) -> None:
        # the peer's requests
        self.next_request_id = next_request_id
        self.last_response_id = -1
        self.last_response: list[bytes] = []
        self.delayed: DelayedResponse | None = None
        # our own requests
        self.next_own_id = 0
        self.pending: PendingRequest | None = None
        self.queued: list[QueuedRequest] = []

    # -- the peer's requests ---------------------------------------------------------------
    def verdict(self, message_id: int) -> RequestVerdict:
        if message_id == self.last_response_id and message_id + 1 == self.next_request_id:
            return RequestVerdict.RETRANSMITTED
        if message_id == self.next_request_id:
            return RequestVerdict.NEW
        return RequestVerdict.OUT_OF_WINDOW

    def answered(
        self, message_id: int, datagrams: list[bytes], local: Address, remote: Address,
        now: float, delay: float = 0.0,
    ) -> list[bytes]:  # fmt: skip
        """Record our response to request `message_id`; the datagrams to send now (none
        while it is held back: retransmissions wait for it too)."""
        self.last_response_id = message_id
        self.next_request_id = message_id + 1
        if delay > 0:
            self.last_response = []
            self.delayed = DelayedResponse(now + delay, datagrams, local, remote)
            return []
        self.last_response = datagrams
        return datagrams

    def release_delayed(self, now: float) -> DelayedResponse | None:
        """The held-back response once it is due (it becomes the one resent), else None."""
        delayed = self.delayed
        if delayed is None or delayed.due > now:
            return None
        self.delayed = None
        self.last_response = delayed.datagrams
        return delayed

    # -- our own requests ------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A request of ours is in flight or waiting."""
        return self.pending is not None or bool(self.queued)

    def start(self, datagrams_for: Callable[[int], list[bytes]], next_send: float, kind: str,
              on_response: OnResponse | None) -> list[bytes]:  # fmt: skip
        """Put a request in flight under the next message ID; `datagrams_for(message_id)`
        builds it. Only while nothing is in flight (see `pending`)."""
        assert self.pending is None, "window size 1: one request of ours at a time"
        message_id = self.next_own_id
        self.next_own_id += 1
        datagrams = datagrams_for(message_id)
        self.pending = PendingRequest(message_id, datagrams, next_send, kind, on_response)
        return datagrams

    def take_response(self, message_id: int) -> PendingRequest | None:
        """The request in flight that `message_id` answers, or None (not ours, or late)."""
        pending = self.pending
        return pending if pending is not None and pending.message_id == message_id else None

    def resend_due(self, now: float, timeout: float, tries: int) -> list[bytes] | None:
        """The request in flight to send again now (back-off doubling from `timeout`), [] if
        nothing is due, None when `tries` sends went unanswered (the peer is gone)."""
        pending = self.pending
        if pending is None or pending.next_send > now:
            return []
        if pending.tries >= tries:
            self.pending = None
            return None
        pending.next_send = now + timeout * 2.0**pending.tries
        pending.tries += 1
        return pending.datagrams

    def drop_requests(self) -> None:
        """Forget every request of ours (the SA ends or is replaced)."""
        self.pending = None
        self.queued.clear()

    def next_due(self) -> float | None:
        """The earliest retransmission or held-back response, or None."""
        times = [
            t
            for t in (
                self.pending.next_send if self.pending is not None else None,
                self.delayed.due if self.delayed is not None else None,
            )
            if t is not None
        ]
        return min(times) if times else None
