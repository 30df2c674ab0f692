"""What the exchange code may use of the responder: a narrow, typed context.

The exchanges (`exchanges`, `ike_auth`, `eap_auth`, `mobike`, `followup`, `tasks`) read the
configuration and the injected services, emit events, send and answer messages through the
SA's message-ID window and change the SA table only through these calls. The responder
provides them; nothing in ike/ imports the responder back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ikev2d.policy.config import ServerConfig
    from ikev2d.policy.pool import AddressPool
    from ikev2d.wire.payloads import Payload

    from .closed import ClosedSas
    from .credentials import Credentials
    from .events import Address, Event
    from .sa import ChildSa, IkeSa
    from .window import OnResponse

__all__ = ["Context", "Rng", "SpiSource"]

Rng = Callable[[int], bytes]
SpiSource = Callable[[str, str], int]  # (local, remote address) -> an inbound ESP SPI


class Context(Protocol):
    # -- configuration and injected services -----------------------------------------------
    config: ServerConfig
    rng: Rng
    pool: AddressPool
    credentials: Credentials | None
    # certificate validity needs the date: injected like randomness (no cert clients: 0.0)
    wall_clock: Callable[[], float]
    # our addresses beside the one a client contacted, announced to MOBIKE clients so they
    # can move there (another family, say); the daemon knows them
    other_addresses: Callable[[str], Sequence[str]]
    export_keys: bool
    closed: ClosedSas  # IKE SAs their client deleted, still answering that Delete

    def allocate_spi(self, local: str, remote: str) -> int:
        """An inbound ESP SPI from the datapath (KernelRefused when it has none)."""
        ...

    def new_spi(self) -> bytes:
        """A fresh IKE SPI of ours."""
        ...

    def emit(self, event: Event) -> None: ...

    # -- messages ------------------------------------------------------------------------------
    def send_request(
        self, sa: IkeSa, exchange: int, payloads: list[Payload], now: float, kind: str,
        on_response: OnResponse | None = None,
    ) -> None:  # fmt: skip
        """Our request: sent now, or queued behind the one in flight."""
        ...

    def respond(
        self, sa: IkeSa, exchange: int, mid: int, payloads: list[Payload], src: Address,
        dst: Address, now: float = 0.0, delay: float = 0.0,
    ) -> None:  # fmt: skip
        """Our response to the peer's request `mid` (held back `delay` seconds)."""
        ...

    def transmit(self, datagrams: list[bytes], local: Address, remote: Address) -> None:
        """Send datagrams already protected (a response again, for a retransmission)."""
        ...

    # -- the SA table ------------------------------------------------------------------------
    def schedule(self, sa: IkeSa) -> None:
        """The SA's next deadline may have moved."""
        ...

    def adopt(self, sa: IkeSa) -> None:
        """A new IKE SA (from a rekey) joins the table."""
        ...

    def leave_half_open(self, sa: IkeSa) -> None:
        """IKE_AUTH is done: the SA no longer counts against the half-open limits, and is
        one of its client's sessions (what INITIAL_CONTACT replaces)."""
        ...

    def note_auth_failure(self, ip: str, now: float) -> None:
        """A failed authentication from `ip` (the throttle counts them)."""
        ...

    def replace_older_sessions(self, sa: IkeSa) -> None: ...

    def remove_child(self, sa: IkeSa, child: ChildSa) -> None: ...

    def terminate(self, sa: IkeSa, reason: str) -> None:
        """End the SA's Child SAs and lease; announce the end of an established SA."""
        ...

    def forget(self, sa: IkeSa) -> None: ...

    def disconnect(self, sa: IkeSa, now: float, reason: str = "disconnected") -> None: ...
