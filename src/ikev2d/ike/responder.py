"""The sans-IO IKEv2 responder: bytes, time and commands in; datagrams and events out.

    r = Responder(config, rng=..., allocate_spi=...)
    r.receive_datagram(data, src, dst, now)       # an IKE message (non-ESP marker removed)
    for data, src, dst in r.datagrams_to_send(): ...
    while (event := r.next_event()) is not None: ...
    r.get_timer() / r.handle_timer(now)

It never opens a socket, reads a clock or touches the kernel: randomness and the kernel's SPI
allocation are injected, time is an argument, kernel effects are events. Addresses are
(ip, port) tuples; `dst` of a received datagram is the local address it arrived on.

The responder owns the SA table, the timers and the outbox, and is the exchanges' `Context`.
IKE_SA_INIT passes `dos.InitGate` first; messages inside an IKE SA go to `exchanges`,
requests we start ourselves (DPD, rekeying, Delete) are in `tasks`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ikev2d.policy.config import ServerConfig
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.errors import ParseError

from .closed import ClosedSas
from .context import Rng, SpiSource
from .dos import MAX_IKE_SA_INIT, HalfOpenLimits, InitGate
from .errors import IkeError, KernelRefused, NoProposalChosen
from .lifetimes import due_times
from .reload import affected_by, carry_lease, no_longer_trusted
from .sessions import ClientSessions
from .state import SaState
from .window import OnResponse, QueuedRequest

if TYPE_CHECKING:
    from ikev2d.wire.message import Header, Message
    from ikev2d.wire.payloads import Payload

    from . import events as ev
    from .credentials import Credentials
    from .events import Address
    from .sa import ChildSa, IkeSa

# The exchanges (`exchanges`, `tasks`, `ike_sa_init`, `protection`, and through them key
# exchange, ciphers, EAP, MOBIKE, rekeying) are imported by the first datagram or SA timer that
# needs them, not with the responder: a daemon waiting for its first client does not hold them
# (issue 8, idle RSS; ~1.5 MB with what they import). So is the message codec (wire.message,
# wire.payloads and the payload modules they load: ~30 frozen dataclasses built at import,
# issue 17, start time). tests/unit/test_footprint.py keeps it so.

__all__ = ["Responder"]

_ZERO_SPI = bytes(8)
_MAX_IKE_SAS = 1 << 16  # beyond any router; keeps a flood of valid clients bounded too


class Responder:
    def __init__(
        self,
        config: ServerConfig,
        *,
        rng: Rng,
        allocate_spi: SpiSource,
        export_keys: bool = False,
        credentials: Credentials | None = None,
        wall_clock: Callable[[], float] | None = None,
        other_addresses: Callable[[str], Sequence[str]] | None = None,
        memory_bytes: int | None = None,
    ) -> None:
        self.config = config
        self.memory_bytes = memory_bytes  # the router's RAM: unset half-open limits follow it
        self.limits = HalfOpenLimits.of(config, memory_bytes)
        self.other_addresses: Callable[[str], Sequence[str]] = other_addresses or _no_others
        self.credentials = credentials
        self.wall_clock: Callable[[], float] = wall_clock or _no_clock
        self.rng = rng
        self._spi_source = allocate_spi
        self.export_keys = export_keys
        self.pool = config.new_pool()
        self._sas: dict[bytes, IkeSa] = {}  # by our SPI
        self._sessions = ClientSessions()  # the SAs past IKE_AUTH by client (INITIAL_CONTACT)
        self._gate = InitGate(rng)
        self._outbox: list[tuple[bytes, Address, Address]] = []
        self._events: deque[ev.Event] = deque()
        self._timers: list[tuple[float, int, bytes]] = []
        self._timer_seq = 0
        self.closed = ClosedSas()

    # -- the surface -----------------------------------------------------------------------
    def receive_datagram(self, data: bytes, src: Address, dst: Address, now: float) -> None:
        try:
            header = _peek_header(data)
        except ParseError:
            return
        if header.exchange == ExchangeType.IKE_SA_INIT and header.spi_r == _ZERO_SPI:
            if header.initiator and not header.response:
                self._on_init(data, header, src, dst, now)
            return
        # the sender's "I" flag says whose SPI is whose (§3.1)
        ours, theirs = (
            (header.spi_r, header.spi_i) if header.initiator else (header.spi_i, header.spi_r)
        )
        sa = self._sas.get(ours)
        if sa is None or sa.peer_spi != theirs or header.major_version != 2:
            return
        if header.initiator == sa.initiator:
            return  # flags of a message we would send: a reflection
        from . import exchanges

        if header.response:
            exchanges.on_response(self, sa, data, header, now)
        else:
            exchanges.on_request(self, sa, data, header, src, dst, now)

    def datagrams_to_send(self) -> list[tuple[bytes, Address, Address]]:
        """(data, local address to send from, remote address) to send now."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> ev.Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest moment `handle_timer` has something to do, or None."""
        timers = self._timers
        while timers:
            when, _, spi = timers[0]
            sa = self._sas.get(spi)
            if sa is not None and _deadline(sa, self.config) == when:
                return when
            heapq.heappop(timers)  # stale: the SA is gone or its deadline moved
        return None

    def handle_timer(self, now: float) -> None:
        from .tasks import on_sa_timer

        while (when := self.get_timer()) is not None and when <= now:
            _, _, spi = heapq.heappop(self._timers)
            on_sa_timer(self, self._sas[spi], now)

    # -- commands ----------------------------------------------------------------------------
    def ike_sas(self) -> Iterator[IkeSa]:
        """Established IKE SAs (read them, do not change them)."""
        return (sa for sa in self._sas.values() if sa.state == SaState.ESTABLISHED)

    def find(self, target: str) -> list[IkeSa]:
        """Established IKE SAs whose identity, virtual IP or handle is `target`."""
        return [sa for sa in self.ike_sas() if target in _names(sa)]

    def disconnect(self, sa: IkeSa, now: float, reason: str = "disconnected") -> None:
        """Send Delete for the IKE SA; its Child SAs and lease end at once."""
        from .tasks import delete_ike

        if sa.state != SaState.ESTABLISHED:
            return
        self.terminate(sa, reason)
        sa.window.drop_requests()  # our Delete goes out now, whatever was in flight
        delete_ike(self, sa, now)

    def replace_older_sessions(self, sa: IkeSa) -> None:
        """INITIAL_CONTACT (RFC 7296 §2.4): the client lost its state (a crash), so its other
        IKE SAs end now, with their Child SAs and leases; no Delete, nobody would answer it."""
        for old in self._sessions.others(sa):
            self.terminate(old, "replaced: the client reconnected (INITIAL_CONTACT)")
            self.forget(old)

    def shutdown(self, now: float) -> None:
        """Delete every IKE SA (one Delete each, no waiting): the daemon is stopping."""
        for sa in list(self._sas.values()):
            if sa.state == SaState.ESTABLISHED:
                self.disconnect(sa, now, "server stopping")
            self.forget(sa)

    def note_traffic(self, handle: int, now: float) -> None:
        """ESP arrived for this IKE SA's children (kernel counters rose): the peer is alive."""
        sa = self._sas.get(handle.to_bytes(8, "big"))
        if sa is not None:
            sa.settled = True  # the client sends on its tunnel: it accepted us
        if sa is not None and now > sa.last_inbound:
            sa.last_inbound = now
            self.schedule(sa)

    def handle_kernel_expire(self, spi: int, hard: bool, now: float) -> None:
        """The kernel's soft (rekey now) or hard (gone) lifetime of a Child SA ran out."""
        from .tasks import child_expired

        for sa in list(self.ike_sas()):
            if (child := sa.child_by_spi(spi)) is not None:
                return child_expired(self, sa, child, hard, now)

    def update_config(self, config: ServerConfig, now: float) -> list[IkeSa]:
        """Apply a new configuration; IKE SAs it does not admit any more are deleted and
        returned, the others keep running (their leases carried into the new pool)."""
        old, self.config = self.config, config
        self.limits = HalfOpenLimits.of(config, self.memory_bytes)
        self.pool = config.new_pool()
        dropped = []
        for sa in list(self.ike_sas()):
            reason = affected_by(sa, old, config) or carry_lease(sa, self.pool)
            if reason is not None:
                self.disconnect(sa, now, f"configuration changed: {reason}")
                dropped.append(sa)
        return dropped

    def update_credentials(self, credentials: Credentials | None, now: float) -> list[IkeSa]:
        """New certificates (renewed, imported, a revocation): certificate clients whose
        certificate no longer validates (revoked, or another CA) are deleted and returned."""
        old, self.credentials = self.credentials, credentials
        dropped = no_longer_trusted(self.ike_sas(), old, credentials)
        for sa in dropped:
            self.disconnect(sa, now, "certificate revoked or no longer trusted")
        return dropped

    # -- the exchanges' Context ------------------------------------------------------------
    def allocate_spi(self, local: str, remote: str) -> int:
        """An inbound ESP SPI from the datapath; its failure refuses only this Child SA."""
        try:
            return self._spi_source(local, remote)
        except Exception as e:  # the kernel's reasons are many; the answer is one
            raise KernelRefused(f"the kernel gave no SPI: {e}") from None

    def emit(self, event: ev.Event) -> None:
        self._events.append(event)

    def new_spi(self) -> bytes:
        while True:
            spi = self.rng(8)
            if spi != _ZERO_SPI and spi not in self._sas:
                return spi

    def send_request(
        self, sa: IkeSa, exchange: int, payloads: list[Payload], now: float, kind: str,
        on_response: OnResponse | None = None,
    ) -> None:  # fmt: skip
        """Send now if nothing of ours is in flight, else queue (window size 1)."""
        from .protection import seal

        window = sa.window
        if window.pending is not None:
            window.queued.append(QueuedRequest(exchange, payloads, kind, on_response))
            return

        def build(mid: int) -> list[bytes]:
            return seal(sa, _header(sa, exchange, mid), payloads, self.config, self.rng)

        timeout = float(self.config.retransmit_timeout)
        datagrams = window.start(build, now + timeout, kind, on_response)
        self.transmit(datagrams, sa.local, sa.remote)
        self.schedule(sa)

    def respond(
        self, sa: IkeSa, exchange: int, mid: int, payloads: list[Payload], src: Address,
        dst: Address, now: float = 0.0, delay: float = 0.0,
    ) -> None:  # fmt: skip
        from .protection import seal

        header = _header(sa, exchange, mid, response=True)
        datagrams = seal(sa, header, payloads, self.config, self.rng)
        self.transmit(sa.window.answered(mid, datagrams, dst, src, now, delay), dst, src)
        if delay > 0:
            self.schedule(sa)

    def transmit(self, datagrams: list[bytes], local: Address, remote: Address) -> None:
        self._outbox.extend((d, local, remote) for d in datagrams)

    def schedule(self, sa: IkeSa) -> None:
        when = _deadline(sa, self.config)
        if when is not None:
            self._timer_seq += 1
            heapq.heappush(self._timers, (when, self._timer_seq, sa.our_spi))

    def adopt(self, sa: IkeSa) -> None:
        """Register a new IKE SA (from a rekey) under our SPI."""
        self._sas[sa.our_spi] = sa
        self._sessions.add(sa)
        self.schedule(sa)

    def leave_half_open(self, sa: IkeSa) -> None:
        self._gate.closed(sa)
        self._sessions.add(sa)

    def note_auth_failure(self, ip: str, now: float) -> None:
        self._gate.throttle.note_failure(ip, now)

    def remove_child(self, sa: IkeSa, child: ChildSa) -> None:
        if child in sa.children:
            from .events import ChildSaRemoved

            sa.children.remove(child)
            self.emit(ChildSaRemoved(sa.handle, child.spec))

    def terminate(self, sa: IkeSa, reason: str) -> None:
        """End the SA's Child SAs and lease; announce the end of an established SA."""
        for child in list(sa.children):
            self.remove_child(sa, child)
        if sa.client.virtual_ip is not None:
            self.pool.release(sa.client.virtual_ip)
            sa.client.virtual_ip = sa.client.virtual_ip6 = None
        if sa.state == SaState.ESTABLISHED:
            from .events import IkeSaTerminated

            self.emit(IkeSaTerminated(sa.handle, sa.client.name, reason))
            sa.move_to(SaState.DELETING)

    def forget(self, sa: IkeSa) -> None:
        if sa.state == SaState.ESTABLISHED:
            self.terminate(sa, "removed")
        if sa.state == SaState.HALF_OPEN:
            self._gate.closed(sa)
        self._sessions.remove(sa)
        if sa.state != SaState.DEAD:
            sa.move_to(SaState.DEAD)
        self._sas.pop(sa.our_spi, None)
        self.closed.discard(sa)

    # -- IKE_SA_INIT -----------------------------------------------------------------------
    def _on_init(self, data: bytes, header: Header, src: Address, dst: Address, now: float) -> None:
        """Cheap checks first (size, header, retransmission, throttle, limits), then the
        bounded decode, the cookie and the key exchange."""
        from .events import NegotiationFailed
        from .ike_sa_init import handle_ike_sa_init

        if len(data) > MAX_IKE_SA_INIT:
            return
        if header.major_version != 2:
            self.transmit(_plain_answer(header, NotifyType.INVALID_MAJOR_VERSION), dst, src)
            return
        gate = self._gate
        known = self._sas.get(gate.made_by(header.spi_i, src))
        if known is not None:
            self.transmit(gate.resend(known, data, now), dst, src)
            return
        if not gate.may_decode(header, src, now, self.limits) or len(self._sas) >= _MAX_IKE_SAS:
            return
        try:
            msg = _decode(data)
        except ParseError:
            return
        admitted = gate.admit(msg, src, now, self.limits)
        if isinstance(admitted, bytes):
            self.transmit(_plain_answer(header, NotifyType.COOKIE, admitted), dst, src)
        if admitted is not True:
            return
        try:
            sa, response = handle_ike_sa_init(
                msg, data, src, dst, now, self.config, self.rng, self.new_spi(), self.credentials
            )
        except IkeError as e:
            if isinstance(e, NoProposalChosen):
                self.emit(NegotiationFailed(src, e.reason, e.code))
            self.transmit(_plain_answer(header, e.notify, e.data), dst, src)
            return
        self._sas[sa.spi_r] = sa
        gate.opened(sa, src)
        self.transmit([response], dst, src)
        self.schedule(sa)


# The message codec, imported with the first datagram (see the note on lazy imports above).
def _peek_header(data: bytes) -> Header:
    from ikev2d.wire.message import peek_header

    return peek_header(data)


def _decode(data: bytes) -> Message:
    from ikev2d.wire.message import decode_message

    return decode_message(data)


def _header(sa: IkeSa, exchange: int, mid: int, *, response: bool = False) -> bytes:
    """The encoded IKE header of a message of `sa` that we send."""
    from ikev2d.wire.message import Header

    return Header(
        sa.spi_i, sa.spi_r, exchange, mid, initiator=sa.initiator, response=response
    ).encode()


def _plain_answer(header: Header, notify: int, data: bytes = b"") -> list[bytes]:
    """An unprotected IKE_SA_INIT response carrying only `notify` (no state is kept)."""
    from ikev2d.wire.message import Header, Message, encode_message
    from ikev2d.wire.payloads import NotifyPayload

    reply = Header(header.spi_i, _ZERO_SPI, header.exchange, header.message_id, response=True)
    return [encode_message(Message(reply, (NotifyPayload.of(notify, data),)))]


def _names(sa: IkeSa) -> tuple[str | None, ...]:
    """What `Responder.find` matches: identity, user, virtual IP, handle."""
    return (str(sa.client.identity), sa.client.user, sa.client.virtual_ip, f"{sa.handle:016x}")


def _no_others(address: str) -> Sequence[str]:
    return ()


def _no_clock() -> float:
    return 0.0


def _deadline(sa: IkeSa, config: ServerConfig) -> float | None:
    """The earliest moment something is due for `sa` (see tasks.on_sa_timer)."""
    if sa.closed_until is not None:
        return sa.closed_until
    times = [sa.handshake.expires if sa.handshake else None, sa.window.next_due()]
    if sa.state == SaState.ESTABLISHED:
        times += due_times(sa, config)
    due = [t for t in times if t is not None]
    return min(due) if due else None
