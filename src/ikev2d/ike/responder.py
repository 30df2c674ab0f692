"""The sans-IO IKEv2 responder: bytes, time and commands in; datagrams and events out.

    r = Responder(config, rng=..., allocate_spi=...)
    r.receive_datagram(data, src, dst, now)       # an IKE message (non-ESP marker removed)
    for data, src, dst in r.datagrams_to_send(): ...
    while (event := r.next_event()) is not None: ...
    r.get_timer() / r.handle_timer(now)

It never opens a socket, reads a clock or touches the kernel: randomness and the kernel's SPI
allocation are injected, time is an argument, kernel effects are events. Addresses are
(ip, port) tuples; `dst` of a received datagram is the local address it arrived on.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator

from ikev2d.crypto.errors import IntegrityError
from ikev2d.policy.config import ServerConfig
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import (
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
    peek_header,
)
from ikev2d.wire.payloads import DeletePayload, EncryptedPayload, NotifyPayload, Payload

from . import events as ev
from .errors import AuthenticationFailed, IkeError, NoProposalChosen
from .events import Address
from .ike_auth import handle_ike_auth
from .ike_sa_init import handle_ike_sa_init
from .informational import handle_informational
from .negotiate import describe_offer
from .sa import IkeSa, PendingRequest, SaState

__all__ = ["Responder"]

Rng = Callable[[int], bytes]
SpiAllocator = Callable[[str, str], int]

RETRANSMIT_BASE = 2.0  # seconds before the first retransmission of our request
RETRANSMIT_TRIES = 3  # sends of a request before we give up on the peer
_ZERO_SPI = bytes(8)


class Responder:
    def __init__(self, config: ServerConfig, *, rng: Rng, allocate_spi: SpiAllocator) -> None:
        self.config = config
        self._rng = rng
        self._allocate_spi = allocate_spi
        self._pool = config.new_pool()
        self._sas: dict[bytes, IkeSa] = {}
        self._by_init: dict[tuple[bytes, Address], bytes] = {}  # IKE_SA_INIT retransmits
        self._outbox: list[tuple[bytes, Address, Address]] = []
        self._events: deque[ev.Event] = deque()
        self._timers: list[tuple[float, int, bytes]] = []
        self._timer_seq = 0

    # -- the surface -----------------------------------------------------------------------
    def receive_datagram(self, data: bytes, src: Address, dst: Address, now: float) -> None:
        try:
            header = peek_header(data)
        except ParseError:
            return
        if header.exchange == ExchangeType.IKE_SA_INIT and header.spi_r == _ZERO_SPI:
            if header.initiator and not header.response:
                self._on_init(data, header, src, dst, now)
            return
        sa = self._sas.get(header.spi_r)
        if sa is None or sa.spi_i != header.spi_i or header.major_version != 2:
            return
        if header.response:
            self._on_response(sa, data, header, now)
        elif header.initiator:
            self._on_request(sa, data, header, src, dst, now)

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
            when, _, spi_r = timers[0]
            sa = self._sas.get(spi_r)
            if sa is not None and _deadline(sa) == when:
                return when
            heapq.heappop(timers)  # stale: the SA is gone or its deadline moved
        return None

    def handle_timer(self, now: float) -> None:
        while (when := self.get_timer()) is not None and when <= now:
            _, _, spi_r = heapq.heappop(self._timers)
            sa = self._sas[spi_r]
            if sa.expires is not None and sa.expires <= now:
                self._forget(sa)  # half-open too long: no IKE_AUTH came
                continue
            pending = sa.pending
            if pending is not None and pending.next_send <= now:
                if pending.tries >= RETRANSMIT_TRIES:
                    sa.pending = None
                    self._terminate(sa, "peer did not answer")
                    self._forget(sa)
                    continue
                self._outbox.extend((d, sa.local, sa.remote) for d in pending.datagrams)
                pending.tries += 1
                pending.next_send = now + RETRANSMIT_BASE * 2 ** (pending.tries - 1)
            self._schedule(sa)

    # -- commands ----------------------------------------------------------------------------
    def ike_sas(self) -> Iterator[IkeSa]:
        """Established IKE SAs (read them, do not change them)."""
        return (sa for sa in self._sas.values() if sa.state == SaState.ESTABLISHED)

    def find(self, target: str) -> list[IkeSa]:
        """Established IKE SAs whose identity, virtual IP or handle is `target`."""
        return [
            sa
            for sa in self.ike_sas()
            if target in (str(sa.identity), sa.virtual_ip, f"{sa.handle:016x}")
        ]

    def disconnect(self, sa: IkeSa, now: float, reason: str = "disconnected") -> None:
        """Send Delete for the IKE SA; its Child SAs and lease end at once."""
        if sa.state != SaState.ESTABLISHED:
            return
        self._terminate(sa, reason)
        self._send_request(sa, ExchangeType.INFORMATIONAL, [DeletePayload.ike()], now)

    def shutdown(self, now: float) -> None:
        """Delete every IKE SA (one Delete each, no waiting): the daemon is stopping."""
        for sa in list(self._sas.values()):
            if sa.state == SaState.ESTABLISHED:
                self.disconnect(sa, now, "server stopping")
            self._forget(sa)

    # -- IKE_SA_INIT -----------------------------------------------------------------------
    def _on_init(self, data: bytes, header: Header, src: Address, dst: Address, now) -> None:
        if header.major_version != 2:
            self._reply_plain(header, NotifyType.INVALID_MAJOR_VERSION, b"", src, dst)
            return
        key = (header.spi_i, src)
        known = self._sas.get(self._by_init.get(key, b""))
        if known is not None:
            if known.state == SaState.HALF_OPEN and known.init_request == data:
                self._outbox.append((known.init_response, dst, src))
            return
        try:
            msg = decode_message(data)
        except ParseError:
            return
        if header.message_id != 0:
            return
        try:
            sa, response = handle_ike_sa_init(
                msg, data, src, dst, now, self.config, self._rng, self._new_spi()
            )
        except IkeError as e:
            if isinstance(e, NoProposalChosen):
                self._events.append(ev.NegotiationFailed(src, e.reason))
            self._reply_plain(header, e.notify, e.data, src, dst)
            return
        self._sas[sa.spi_r] = sa
        self._by_init[key] = sa.spi_r
        self._outbox.append((response, dst, src))
        self._schedule(sa)

    def _reply_plain(self, header: Header, notify: int, data: bytes, src, dst) -> None:
        reply = Header(header.spi_i, _ZERO_SPI, header.exchange, header.message_id, response=True)
        msg = encode_message(Message(reply, (NotifyPayload.of(notify, data),)))
        self._outbox.append((msg, dst, src))

    def _new_spi(self) -> bytes:
        while True:
            spi = self._rng(8)
            if spi != _ZERO_SPI and spi not in self._sas:
                return spi

    # -- requests inside an IKE SA -------------------------------------------------------
    def _on_request(self, sa: IkeSa, data: bytes, header: Header, src, dst, now) -> None:
        mid = header.message_id
        if mid == sa.last_response_id and mid + 1 == sa.next_request_id and sa.last_response:
            if self._open(sa, data) is not None:  # only an authentic retransmission
                self._outbox.extend((d, dst, src) for d in sa.last_response)
            return
        if mid != sa.next_request_id:
            return
        inner = self._open(sa, data)
        if inner is None:
            return
        exchange = header.exchange
        try:
            if isinstance(inner, ParseError):
                raise IkeError(f"malformed encrypted payloads: {inner}")
            if exchange == ExchangeType.IKE_AUTH and sa.state == SaState.HALF_OPEN:
                self._on_ike_auth(sa, inner, mid, src, dst, now)
            elif exchange == ExchangeType.INFORMATIONAL and sa.state != SaState.HALF_OPEN:
                self._on_informational(sa, inner, mid, src, dst)
            elif exchange == ExchangeType.CREATE_CHILD_SA and sa.state == SaState.ESTABLISHED:
                notify = NotifyPayload.of(NotifyType.NO_ADDITIONAL_SAS)
                self._respond(sa, exchange, mid, [notify], src, dst)
            else:
                return
        except IkeError as e:
            self._respond(sa, exchange, mid, [NotifyPayload.of(e.notify, e.data)], src, dst)
            if sa.state == SaState.HALF_OPEN:
                self._fail_auth(sa, src, e)

    def _on_ike_auth(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        sa.local, sa.remote = dst, src  # the client may have floated to port 4500
        result = handle_ike_auth(sa, inner, now, self.config, self._pool, self._allocate_spi)
        self._respond(sa, ExchangeType.IKE_AUTH, mid, result.payloads, src, dst)
        sa.move_to(SaState.ESTABLISHED)
        sa.established, sa.expires = now, None
        self._by_init = {k: v for k, v in self._by_init.items() if v != sa.spi_r}
        sa.init_request = sa.init_response = b""  # needed no more: keep the SA small
        identity = str(sa.identity)
        if result.child is not None:
            sa.virtual_ip = str(result.child.virtual_ip)
            sa.children.append(result.child.child)
        self._events.append(
            ev.IkeSaEstablished(
                sa.handle, identity, sa.remote, sa.virtual_ip, sa.nat, sa.proposal.text
            )
        )
        if result.child is not None:
            self._events.append(ev.ChildSaInstalled(sa.handle, result.child.child.spec))
        elif result.child_error is not None:
            self._events.append(ev.NegotiationFailed(src, result.child_error.reason))
        self._schedule(sa)

    def _fail_auth(self, sa: IkeSa, src: Address, error: IkeError) -> None:
        identity = str(sa.identity) if sa.identity is not None else "?"
        if isinstance(error, AuthenticationFailed):
            self._events.append(ev.AuthenticationFailed(src, identity, error.reason))
        self._forget(sa)  # nothing is kept of a failed authentication

    def _on_informational(self, sa: IkeSa, inner, mid: int, src, dst) -> None:
        result = handle_informational(sa, inner)
        self._respond(sa, ExchangeType.INFORMATIONAL, mid, result.payloads, src, dst)
        for child in result.removed:
            sa.children.remove(child)
            self._events.append(ev.ChildSaRemoved(sa.handle, child.spec))
        if result.delete_ike:
            self._terminate(sa, "deleted by the client")
            sa.pending = None
            self._forget(sa)

    # -- responses to our own requests ---------------------------------------------------
    def _on_response(self, sa: IkeSa, data: bytes, header: Header, now) -> None:
        pending = sa.pending
        if pending is None or header.message_id != pending.message_id:
            return
        if self._open(sa, data) is None:
            return
        sa.pending = None
        if sa.state == SaState.DELETING:
            self._forget(sa)
        else:
            self._schedule(sa)

    def _send_request(self, sa: IkeSa, exchange: int, payloads: list[Payload], now) -> None:
        mid = sa.next_own_id
        sa.next_own_id += 1
        header = Header(sa.spi_i, sa.spi_r, exchange, mid).encode()
        first, body = encode_payloads(payloads)
        data = sa.codec_out.seal(header, first, body, self._rng)
        sa.pending = PendingRequest(mid, [data], now + RETRANSMIT_BASE)
        self._outbox.append((data, sa.local, sa.remote))
        self._schedule(sa)

    # -- protection ----------------------------------------------------------------------
    def _open(self, sa: IkeSa, data: bytes) -> list[Payload] | ParseError | None:
        """The decrypted payloads; None to drop silently (not authentic or not for us), a
        ParseError when authentic but malformed inside (answered with INVALID_SYNTAX)."""
        try:
            msg = decode_message(data)
        except ParseError:
            return None
        if len(msg.payloads) != 1 or not isinstance(msg.payloads[0], EncryptedPayload):
            return None
        sk = msg.payloads[0]
        try:
            plain = sa.codec_in.open(data, len(data) - len(sk.data))
        except IntegrityError:
            return None
        try:
            return decode_payloads(sk.first_inner_type, plain)
        except ParseError as e:
            return e

    def _respond(self, sa: IkeSa, exchange: int, mid: int, payloads, src, dst) -> None:
        header = Header(sa.spi_i, sa.spi_r, exchange, mid, response=True).encode()
        first, body = encode_payloads(payloads)
        data = sa.codec_out.seal(header, first, body, self._rng)
        sa.last_response_id, sa.last_response = mid, [data]
        sa.next_request_id = mid + 1
        self._outbox.append((data, dst, src))

    # -- bookkeeping ---------------------------------------------------------------------
    def _terminate(self, sa: IkeSa, reason: str) -> None:
        """End the SA's Child SAs and lease; announce the end of an established SA."""
        for child in sa.children:
            self._events.append(ev.ChildSaRemoved(sa.handle, child.spec))
        sa.children.clear()
        if sa.virtual_ip is not None:
            self._pool.release(sa.virtual_ip)
            sa.virtual_ip = None
        if sa.state == SaState.ESTABLISHED:
            self._events.append(ev.IkeSaTerminated(sa.handle, str(sa.identity), reason))
            sa.move_to(SaState.DELETING)

    def _forget(self, sa: IkeSa) -> None:
        if sa.state == SaState.ESTABLISHED:
            self._terminate(sa, "removed")
        if sa.state != SaState.DEAD:
            sa.move_to(SaState.DEAD)
        self._sas.pop(sa.spi_r, None)
        self._by_init = {k: v for k, v in self._by_init.items() if v != sa.spi_r}

    def _schedule(self, sa: IkeSa) -> None:
        when = _deadline(sa)
        if when is not None:
            self._timer_seq += 1
            heapq.heappush(self._timers, (when, self._timer_seq, sa.spi_r))


def _deadline(sa: IkeSa) -> float | None:
    times = [t for t in (sa.expires, sa.pending.next_send if sa.pending else None) if t]
    return min(times) if times else None


__all__ += ["describe_offer"]
