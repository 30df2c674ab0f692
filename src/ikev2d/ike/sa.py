"""State of one IKE SA and its Child SAs, as the responder keeps it.

The SA lifecycle (`SaState`) is separate from "a request is in flight", which belongs to the
SA's message-ID window (`window.MessageWindow`), not to the SA state.

An IKE SA the client created has us as "original responder". After *we* rekey it, the new
IKE SA has us as original initiator (RFC 7296 §2.18): `initiator` says which, and decides
which SPI is ours, which keys protect which direction and the flags we send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypeAlias

from ikev2d.policy import config as _config
from ikev2d.policy.identity import Identity
from ikev2d.policy.proposals import Proposal

from .state import TRANSITIONS, SaState
from .window import MessageWindow

if TYPE_CHECKING:  # built by the exchanges, which load with the first client
    from ikev2d.auth.eap_mschapv2 import EapMschapv2Server
    from ikev2d.crypto.keys import IkeKeys
    from ikev2d.crypto.prf import Prf
    from ikev2d.crypto.sk import SkCodec
    from ikev2d.wire.payloads import IdiPayload, IdrPayload, Payload

    from .events import Address, ChildSaSpec
    from .fragments import Reassembly

__all__ = [
    "Answer",
    "ChildSa",
    "Client",
    "EapSession",
    "Followup",
    "Handshake",
    "IkeSa",
    "SaState",
    "carry_client_state",
]


@dataclass(slots=True, eq=False)
class ChildSa:
    spec: ChildSaSpec
    proposal: Proposal
    established: float
    rekey_at: float | None = None  # our soft lifetime (with jitter)
    rekeying: bool = False  # our CREATE_CHILD_SA for it is in flight
    replaced: bool = False  # a newer Child SA took over; waiting for its Delete
    replaced_by: ChildSa | None = None
    # of the CREATE_CHILD_SA that made it (§2.8.1 rekey collisions); none for the first one
    nonces: tuple[bytes, bytes] = (b"", b"")
    # what our own rekey of it offers: ((transform type, id), ...) of its KE and RFC 9370
    # ADDKE transforms, as last negotiated (empty: the configured proposal's KE, if any)
    key_exchanges: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True, eq=False)
class EapSession:
    """The EAP conversation of IKE_AUTH (eap_auth) while it runs."""

    first_message: list[Payload] = field(repr=False)
    idi: IdiPayload
    idr: IdrPayload
    identifier: int
    method: EapMschapv2Server | None = None  # the EAP method's server once started
    msk: bytes | None = field(default=None, repr=False)
    rounds: int = 0
    wrong_passwords: int = 0  # MSCHAPv2 responses refused so far (a retry was offered)


class Answer(Protocol):
    """What an exchange handler returns: the payloads of our response (and what it made)."""

    payloads: list[Payload]


# finish(SK(1) | ... | SK(n), the payloads of the last response, now) -> the created SA
Finish: TypeAlias = "Callable[[bytes, list[Payload], float], Answer]"


@dataclass(slots=True, eq=False)
class Followup:
    """A CREATE_CHILD_SA we answered whose additional key exchanges (RFC 9370) are under
    way (followup)."""

    methods: tuple[int, ...]  # still to run, in order
    finish: Finish = field(repr=False)
    started: float
    secrets: list[bytes] = field(default_factory=list, repr=False)


@dataclass(slots=True, eq=False)
class Handshake:
    """What only a half-open IKE SA keeps (IKE_SA_INIT until IKE_AUTH is done): what AUTH
    covers, the retransmission bookkeeping of IKE_SA_INIT, EAP and IKE_INTERMEDIATE. Dropped
    whole once the client is authenticated: forward secrecy, and memory per client."""

    nonce_i: bytes = field(repr=False)
    nonce_r: bytes = field(repr=False)
    init_request: bytes = field(repr=False)
    init_response: bytes = field(repr=False)
    expires: float  # the half-open deadline
    init_from: Address  # where IKE_SA_INIT came from (half-open accounting, its retransmits)
    resends: int = 0  # answers to retransmissions of IKE_SA_INIT (rate-limited)
    resent_at: float = 0.0
    eap: EapSession | None = None  # the EAP conversation while IKE_AUTH runs
    # RFC 9370: the additional key exchanges still to run in IKE_INTERMEDIATE, and the
    # RFC 9242 IntAuth_i | IntAuth_r | IKE_AUTH MID
    pending_ke: tuple[int, ...] = ()
    int_auth: bytes = field(default=b"", repr=False)
    codec_in_prev: SkCodec | None = None  # the keys of the last IKE_INTERMEDIATE request


@dataclass(slots=True, eq=False)
class Client:
    """Who the client is and what it negotiated: a rekeyed IKE SA takes it over whole, so
    reload, revocation, `disconnect NAME` and status keep working after the routine rekey."""

    identity: Identity | None = None
    local_identity: Identity | None = None  # the IDr we answered with
    auth_method: str | None = None  # how the client authenticated: an auth_mode value
    user: str | None = None  # the EAP user or certificate name (leases and status)
    cert_serial: int | None = None  # a certificate client's serial (revocation on reload)
    virtual_ip: str | None = None
    virtual_ip6: str | None = None  # from pool6, the same host number as virtual_ip
    mobike: bool = False
    fragmentation: bool = False  # both ends support RFC 7383
    peer_hashes: tuple[int, ...] = ()  # the client's SIGNATURE_HASH_ALGORITHMS
    established: float | None = None

    @property
    def name(self) -> str:
        """How status and logs name the client: its EAP/certificate user, else its IKE
        identity."""
        return self.user if self.user is not None else str(self.identity)

    @property
    def lease_key(self) -> tuple[str, str]:
        """Leases follow the authenticated client (method and name), so a reconnecting client
        gets its address back and a fixed address goes to its user only."""
        return _config.lease_key(self.auth_method or "", self.name)


@dataclass(slots=True, eq=False)
class IkeSa:
    spi_i: bytes
    spi_r: bytes
    local: Address
    remote: Address
    proposal: Proposal
    prf: Prf
    keys: IkeKeys
    codec_in: SkCodec  # messages the peer sends
    codec_out: SkCodec
    created: float
    handshake: Handshake | None = None  # while half-open
    client: Client = field(default_factory=Client)
    initiator: bool = False  # we are the original initiator (after our own IKE rekey)
    nat_remote: bool = False  # the client is behind a NAT
    nat_local: bool = False  # we are behind a NAT
    state: SaState = SaState.HALF_OPEN
    window: MessageWindow = field(default_factory=MessageWindow, repr=False)
    children: list[ChildSa] = field(default_factory=list)
    last_inbound: float = 0.0  # last authentic message or ESP traffic from the peer
    rekey_at: float | None = None
    hard_expiry: float | None = None
    rekeying: bool = False
    rekey_nonces: tuple[bytes, bytes] = (b"", b"")
    settled: bool = False  # an exchange after IKE_AUTH completed: the client accepted us
    # deleted by the client: kept until then only to answer its Delete again (the answer may
    # have been lost; without it the client retransmits into the void)
    closed_until: float | None = None
    reassembly: Reassembly | None = None  # fragments of the client's current request
    # RFC 9370: the IKE SA's additional key exchanges ((ADDKE type, method), ...)
    additional_ke: tuple[tuple[int, int], ...] = ()
    followups: dict[bytes, Followup] | None = None  # link -> unfinished CREATE_CHILD_SA

    @property
    def half_open(self) -> Handshake:
        """The handshake state, which only a half-open SA has (asking otherwise is a bug)."""
        if self.handshake is None:
            raise RuntimeError("the IKE SA has finished its handshake")
        return self.handshake

    @property
    def our_spi(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    @property
    def peer_spi(self) -> bytes:
        return self.spi_r if self.initiator else self.spi_i

    @property
    def handle(self) -> int:
        return int.from_bytes(self.our_spi, "big")

    @property
    def algorithms(self) -> str:
        """The IKE suite in strongSwan's words, additional key exchanges included."""
        if not self.additional_ke:
            return self.proposal.text
        from ikev2d.crypto.transforms import additional_ke_keyword

        words = (additional_ke_keyword(t, m) for t, m in self.additional_ke)
        return "-".join((self.proposal.text, *words))

    @property
    def nat(self) -> bool:
        return self.nat_remote or self.nat_local

    def move_to(self, new: SaState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"IKE SA state {self.state.value} -> {new.value}")
        self.state = new

    def child_by_spi(self, spi: int) -> ChildSa | None:
        """The Child SA with `spi` as its inbound or outbound SPI."""
        for c in self.children:
            if spi in (c.spec.inbound_spi, c.spec.outbound_spi):
                return c
        return None


def carry_client_state(old: IkeSa, new: IkeSa) -> None:
    """Move the client's identity, credentials, lease and negotiated extensions to `new`."""
    new.client = old.client
    new.settled = True
    # the lease moved: ending the old SA keeps it
    old.client = replace(old.client, virtual_ip=None, virtual_ip6=None)
