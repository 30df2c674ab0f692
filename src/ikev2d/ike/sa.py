"""State of one IKE SA and its Child SAs, as the responder keeps it.

The SA lifecycle (`SaState`) is separate from "a request of ours is in flight"
(`PendingRequest`), which belongs to the exchange machinery, not to the SA state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ikev2d.crypto.keys import IkeKeys
from ikev2d.crypto.prf import Prf
from ikev2d.crypto.sk import SkCodec
from ikev2d.policy.identity import Identity
from ikev2d.policy.proposals import Proposal

from .events import Address, ChildSaSpec

__all__ = ["ChildSa", "IkeSa", "PendingRequest", "SaState"]


class SaState(enum.Enum):
    HALF_OPEN = "half-open"  # IKE_SA_INIT answered, waiting for IKE_AUTH
    ESTABLISHED = "established"
    DELETING = "deleting"  # our Delete is in flight
    DEAD = "dead"


# Which states may follow which: anything else is a bug in the responder.
TRANSITIONS = {
    SaState.HALF_OPEN: {SaState.ESTABLISHED, SaState.DEAD},
    SaState.ESTABLISHED: {SaState.DELETING, SaState.DEAD},
    SaState.DELETING: {SaState.DEAD},
    SaState.DEAD: set(),
}


@dataclass(slots=True)
class ChildSa:
    spec: ChildSaSpec
    proposal: Proposal
    established: float


@dataclass(slots=True)
class PendingRequest:
    """A request we sent and keep retransmitting until its response arrives."""

    message_id: int
    datagrams: list[bytes]
    next_send: float
    tries: int = 1
    purpose: str = ""


@dataclass(slots=True, eq=False)
class IkeSa:
    spi_i: bytes
    spi_r: bytes
    local: Address
    remote: Address
    proposal: Proposal
    prf: Prf
    keys: IkeKeys
    codec_in: SkCodec  # messages from the original initiator (the client)
    codec_out: SkCodec
    nonce_i: bytes = field(repr=False)
    nonce_r: bytes = field(repr=False)
    init_request: bytes = field(repr=False)
    init_response: bytes = field(repr=False)
    created: float
    expires: float | None  # half-open deadline
    nat_remote: bool = False  # the client is behind a NAT
    nat_local: bool = False  # we are behind a NAT
    state: SaState = SaState.HALF_OPEN
    # message IDs of the client's requests (window size 1, RFC 7296 §2.3)
    next_request_id: int = 1
    last_response_id: int = 0
    last_response: list[bytes] = field(default_factory=list, repr=False)
    # our own requests
    next_own_id: int = 0
    pending: PendingRequest | None = None
    identity: Identity | None = None
    virtual_ip: str | None = None
    established: float | None = None
    children: list[ChildSa] = field(default_factory=list)
    mobike: bool = False

    @property
    def handle(self) -> int:
        return int.from_bytes(self.spi_r, "big")

    @property
    def nat(self) -> bool:
        return self.nat_remote or self.nat_local

    def move_to(self, new: SaState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"IKE SA state {self.state.value} -> {new.value}")
        self.state = new
