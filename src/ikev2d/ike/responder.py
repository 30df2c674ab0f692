"""The sans-IO IKEv2 responder: bytes, time and commands in; datagrams and events out.

    r = Responder(config, rng=..., allocate_spi=...)
    r.receive_datagram(data, src, dst, now)       # an IKE message (non-ESP marker removed)
    for data, src, dst in r.datagrams_to_send(): ...
    while (event := r.next_event()) is not None: ...
    r.get_timer() / r.handle_timer(now)

It never opens a socket, reads a clock or touches the kernel: randomness and the kernel's SPI
allocation are injected, time is an argument, kernel effects are events. Addresses are
(ip, port) tuples; `dst` of a received datagram is the local address it arrived on.
Requests we start ourselves (DPD, rekeying, Delete) live in `tasks`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ikev2d.policy.config import ServerConfig
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import (
    Header,
    Message,
    decode_message,
    encode_message,
    peek_header,
)
from ikev2d.wire.payloads import (
    NoncePayload,
    NotifyPayload,
    Payload,
)

from . import events as ev
from .dos import (
    MAX_IKE_SA_INIT,
    MAX_RESENDS,
    RESEND_GAP,
    AuthThrottle,
    CookieJar,
    HalfOpenCounter,
    HalfOpenLimits,
)
from .errors import AuthenticationFailed, IkeError, KernelRefused, NoProposalChosen
from .events import Address
from .sa import ChildSa, IkeSa, SaState
from .window import OnResponse, QueuedRequest, RequestVerdict

if TYPE_CHECKING:
    from .credentials import Credentials

# The exchanges (and through them key exchange, ciphers, EAP, MOBIKE, rekeying) are imported
# by the first datagram that needs them, not with the responder: a daemon waiting for its
# first client does not hold them (issue 8, idle RSS; ~1 MB with what they import).

__all__ = ["Responder"]

Rng = Callable[[int], bytes]
SpiAllocator = Callable[[str, str], int]
_ZERO_SPI = bytes(8)
_MAX_IKE_SAS = 1 << 16  # beyond any router; keeps a flood of valid clients bounded too


class Responder:
    def __init__(
        self,
        config: ServerConfig,
        *,
        rng: Rng,
        allocate_spi: SpiAllocator,
        export_keys: bool = False,
        credentials: Credentials | None = None,
        wall_clock: Callable[[], float] | None = None,
        other_addresses: Callable[[str], Sequence[str]] | None = None,
        memory_bytes: int | None = None,
    ) -> None:
        self.config = config
        self.memory_bytes = memory_bytes  # the router's RAM: unset half-open limits follow it
        self.limits = HalfOpenLimits.of(config, memory_bytes)
        # our other addresses beside the one a client contacted, announced to MOBIKE clients
        # so they can move there (another family, say); asked of the daemon, which knows them
        self.other_addresses = other_addresses or (lambda address: ())
        self.credentials = credentials
        # certificate validity needs the date; injected like randomness (None: no cert clients)
        self.wall_clock = wall_clock or (lambda: 0.0)
        self.rng = rng
        self._spi_source = allocate_spi
        self.export_keys = export_keys
        self.pool = config.new_pool()
        self._sas: dict[bytes, IkeSa] = {}  # by our SPI
        self._by_init: dict[tuple[bytes, Address], bytes] = {}  # IKE_SA_INIT retransmits
        self._outbox: list[tuple[bytes, Address, Address]] = []
        self._events: deque[ev.Event] = deque()
        self._timers: list[tuple[float, int, bytes]] = []
        self._timer_seq = 0
        self._cookies = CookieJar(rng)
        self._half_open = HalfOpenCounter()
        self._throttle = AuthThrottle()

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
        # the sender's "I" flag says whose SPI is whose (§3.1)
        ours, theirs = (
            (header.spi_r, header.spi_i) if header.initiator else (header.spi_i, header.spi_r)
        )
        sa = self._sas.get(ours)
        if sa is None or sa.peer_spi != theirs or header.major_version != 2:
            return
        if header.initiator == sa.initiator:
            return  # flags of a message we would send: a reflection
        if header.response:
            self._on_response(sa, data, header, src, dst, now)
        else:
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
            when, _, spi = timers[0]
            sa = self._sas.get(spi)
            if sa is not None and _deadline(sa, self.config) == when:
                return when
            heapq.heappop(timers)  # stale: the SA is gone or its deadline moved
        return None

    def handle_timer(self, now: float) -> None:
        while (when := self.get_timer()) is not None and when <= now:
            _, _, spi = heapq.heappop(self._timers)
            self._on_sa_timer(self._sas[spi], now)

    # -- commands ----------------------------------------------------------------------------
    def ike_sas(self) -> Iterator[IkeSa]:
        """Established IKE SAs (read them, do not change them)."""
        return (sa for sa in self._sas.values() if sa.state == SaState.ESTABLISHED)

    def find(self, target: str) -> list[IkeSa]:
        """Established IKE SAs whose identity, virtual IP or handle is `target`."""
        return [
            sa
            for sa in self.ike_sas()
            if target in (str(sa.identity), sa.user, sa.virtual_ip, f"{sa.handle:016x}")
        ]

    def disconnect(self, sa: IkeSa, now: float, reason: str = "disconnected") -> None:
        """Send Delete for the IKE SA; its Child SAs and lease end at once."""
        from .tasks import delete_ike

        if sa.state != SaState.ESTABLISHED:
            return
        self.terminate(sa, reason)
        sa.window.drop_requests()  # our Delete goes out now, whatever was in flight
        delete_ike(self, sa, now)

    def replace_older_sessions(self, sa: IkeSa) -> None:
        """INITIAL_CONTACT (RFC 7296 §2.4): the client lost its state (a crash, a reboot), so
        every other IKE SA of the same authenticated client ends now, with its Child SAs and
        lease; no Delete is sent, nobody would answer it."""
        who = _authenticated(sa)
        for old in list(self._sas.values()):
            if old is not sa and old.state != SaState.HALF_OPEN and _authenticated(old) == who:
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
        from .tasks import delete_child, rekey_child

        for sa in list(self.ike_sas()):
            child = sa.child_by_spi(spi)
            if child is None:
                continue
            if not hard:
                if not (child.rekeying or child.replaced):
                    rekey_child(self, sa, child, now)
                return
            self.remove_child(sa, child)
            if not child.replaced:
                delete_child(self, sa, child, now)
            if not sa.children:
                self.disconnect(sa, now, "tunnel lifetime ended")
            return

    def update_config(self, config: ServerConfig, now: float) -> list[IkeSa]:
        """Apply a new configuration; IKE SAs it does not admit any more are deleted and
        returned, the others keep running (their leases carried into the new pool)."""
        from .child import pool_key
        from .reload import affected_by

        old, self.config = self.config, config
        self.limits = HalfOpenLimits.of(config, self.memory_bytes)
        self.pool = config.new_pool()
        dropped = []
        for sa in list(self.ike_sas()):
            reason = affected_by(sa, old, config)
            if reason is None and sa.virtual_ip is not None:
                reason = self._carry_lease(sa, pool_key(sa))
            if reason is not None:
                self.disconnect(sa, now, f"configuration changed: {reason}")
                dropped.append(sa)
        return dropped

    def _carry_lease(self, sa: IkeSa, key) -> str | None:
        """Lease the SA's address again in the new pool under the key it was leased with at
        connect; why it cannot keep it, or None."""
        from ikev2d.policy.pool import PoolError

        try:
            address = str(self.pool.lease(key, sa.virtual_ip))
        except (PoolError, ValueError) as e:
            return f"address {sa.virtual_ip} not available: {e}"
        if address != sa.virtual_ip:  # e.g. a fixed address changed: the new one stays free
            self.pool.release(address)
            return "address changed"
        return None

    def update_credentials(self, credentials: Credentials | None, now: float) -> list[IkeSa]:
        """New certificates (renewed, imported, a revocation): certificate clients whose
        certificate no longer validates (revoked, or another CA) are deleted and returned."""
        old_ca = self.credentials.ca if self.credentials is not None else None
        self.credentials = credentials
        ca = credentials.ca if credentials is not None else None
        revoked = credentials.revoked if credentials is not None else frozenset()
        dropped = [
            sa for sa in self.ike_sas()
            if sa.cert_serial is not None
            and (ca is None or ca != old_ca or sa.cert_serial in revoked)
        ]  # fmt: skip
        for sa in dropped:
            self.disconnect(sa, now, "certificate revoked or no longer trusted")
        return dropped

    # -- machinery used by the exchange modules ------------------------------------------------
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

    def adopt(self, sa: IkeSa) -> None:
        """Register a new IKE SA (from a rekey) under our SPI."""
        self._sas[sa.our_spi] = sa
        self.schedule(sa)

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
            header = Header(sa.spi_i, sa.spi_r, exchange, mid, initiator=sa.initiator).encode()
            return seal(sa, header, payloads, self.config, self.rng)

        timeout = float(self.config.retransmit_timeout)
        datagrams = window.start(build, now + timeout, kind, on_response)
        self._outbox.extend((d, sa.local, sa.remote) for d in datagrams)
        self.schedule(sa)

    def remove_child(self, sa: IkeSa, child: ChildSa) -> None:
        if child in sa.children:
            sa.children.remove(child)
            self.emit(ev.ChildSaRemoved(sa.handle, child.spec))

    def terminate(self, sa: IkeSa, reason: str) -> None:
        """End the SA's Child SAs and lease; announce the end of an established SA."""
        for child in list(sa.children):
            self.remove_child(sa, child)
        if sa.virtual_ip is not None:
            self.pool.release(sa.virtual_ip)
            sa.virtual_ip = sa.virtual_ip6 = None
        if sa.state == SaState.ESTABLISHED:
            self.emit(ev.IkeSaTerminated(sa.handle, _who(sa), reason))
            sa.move_to(SaState.DELETING)

    def forget(self, sa: IkeSa) -> None:
        if sa.state == SaState.ESTABLISHED:
            self.terminate(sa, "removed")
        if sa.state == SaState.HALF_OPEN:
            self._half_open.remove(sa.init_ip)
            self._by_init.pop((sa.spi_i, sa.init_from), None)
        if sa.state != SaState.DEAD:
            sa.move_to(SaState.DEAD)
        self._sas.pop(sa.our_spi, None)

    def schedule(self, sa: IkeSa) -> None:
        when = _deadline(sa, self.config)
        if when is not None:
            self._timer_seq += 1
            heapq.heappush(self._timers, (when, self._timer_seq, sa.our_spi))

    # -- IKE_SA_INIT -----------------------------------------------------------------------
    def _on_init(self, data: bytes, header: Header, src: Address, dst: Address, now) -> None:
        """Cheap checks first (size, header, retransmission, throttle, limits), then the
        bounded decode, the cookie and the key exchange."""
        from .ike_sa_init import handle_ike_sa_init

        if len(data) > MAX_IKE_SA_INIT:
            return
        if header.major_version != 2:
            self._reply_plain(header, NotifyType.INVALID_MAJOR_VERSION, b"", src, dst)
            return
        key = (header.spi_i, src)
        known = self._sas.get(self._by_init.get(key, b""))
        if known is not None:
            self._resend_init(known, data, src, dst, now)
            return
        limits = self.limits
        if header.message_id != 0 or self._throttle.blocked(src[0], now):
            return
        if self._half_open.total >= limits.total or len(self._sas) >= _MAX_IKE_SAS:
            return
        try:
            msg = decode_message(data)
        except ParseError:
            return
        if not self._admit(msg, header, src, dst, now):
            return
        try:
            sa, response = handle_ike_sa_init(
                msg, data, src, dst, now, self.config, self.rng, self.new_spi(), self.credentials
            )
        except IkeError as e:
            if isinstance(e, NoProposalChosen):
                self.emit(ev.NegotiationFailed(src, e.reason, e.code))
            self._reply_plain(header, e.notify, e.data, src, dst)
            return
        sa.last_inbound, sa.init_ip, sa.init_from, sa.init_resent_at = now, src[0], src, now
        self._sas[sa.spi_r] = sa
        self._by_init[key] = sa.spi_r
        self._half_open.add(src[0])
        self._outbox.append((response, dst, src))
        self.schedule(sa)

    def _resend_init(self, sa: IkeSa, data: bytes, src: Address, dst: Address, now) -> None:
        """Our IKE_SA_INIT response again for an identical retransmission, at most MAX_RESENDS
        times RESEND_GAP apart: replays from a spoofed address are not a reflector."""
        if sa.state != SaState.HALF_OPEN or sa.init_request != data:
            return
        if sa.init_resends >= MAX_RESENDS or now < sa.init_resent_at + RESEND_GAP:
            return
        sa.init_resends += 1
        sa.init_resent_at = now
        self._outbox.append((sa.init_response, dst, src))

    def _admit(self, msg: Message, header: Header, src: Address, dst: Address, now) -> bool:
        """Cookies (§2.6) and the per-address limit: False to drop, or after answering
        COOKIE."""
        limits, ip = self.limits, src[0]
        from_ip = self._half_open.of(ip)
        if (
            self._half_open.total >= limits.cookie_threshold
            or from_ip >= limits.cookie_threshold_per_ip
        ):
            nonce = msg.get(NoncePayload)
            if nonce is None:
                return False
            first = msg.payloads[0]
            cookie = (
                first.data
                if isinstance(first, NotifyPayload) and first.notify_type == NotifyType.COOKIE
                else None
            )
            if cookie is None or not self._cookies.check(
                cookie, nonce.data, src[0], header.spi_i, now
            ):
                value = self._cookies.make(nonce.data, src[0], header.spi_i, now)
                self._reply_plain(header, NotifyType.COOKIE, value, src, dst)
                return False
        return from_ip < limits.per_ip

    def _reply_plain(self, header: Header, notify: int, data: bytes, src, dst) -> None:
        reply = Header(header.spi_i, _ZERO_SPI, header.exchange, header.message_id, response=True)
        msg = encode_message(Message(reply, (NotifyPayload.of(notify, data),)))
        self._outbox.append((msg, dst, src))

    # -- requests inside an IKE SA -------------------------------------------------------
    def _on_request(self, sa: IkeSa, data: bytes, header: Header, src, dst, now) -> None:
        from .mobike import follow_client
        from .protection import decode_inner, is_retransmission, open_plain

        mid = header.message_id
        verdict = sa.window.verdict(mid)
        if verdict == RequestVerdict.RETRANSMITTED:
            last = sa.window.last_response
            if last and is_retransmission(sa, data):
                self._outbox.extend((d, dst, src) for d in last)
            return
        if verdict == RequestVerdict.OUT_OF_WINDOW:
            return
        opened = open_plain(sa, data, now)
        if opened is None:
            return
        inner = decode_inner(opened)
        exchange = header.exchange
        try:
            if isinstance(inner, ParseError):
                raise IkeError(f"malformed encrypted payloads: {inner}")
            if exchange == ExchangeType.IKE_AUTH and sa.state == SaState.HALF_OPEN:
                self._on_ike_auth(sa, inner, mid, src, dst, now)
                return
            if exchange == ExchangeType.IKE_INTERMEDIATE and sa.state == SaState.HALF_OPEN:
                self._on_intermediate(sa, inner, (data[:28], *opened), mid, src, dst)
                return
            if sa.state == SaState.HALF_OPEN:
                if exchange == ExchangeType.INFORMATIONAL:
                    self._on_abandoned_auth(sa, inner, mid, src, dst, now)
                return
            if (src, dst) != (sa.remote, sa.local) and not sa.mobike and sa.nat_remote:
                follow_client(self, sa, src, dst)  # a NAT re-mapped the client (§2.23)
            if exchange == ExchangeType.INFORMATIONAL:
                self._on_informational(sa, inner, mid, src, dst, now)
            elif exchange == ExchangeType.CREATE_CHILD_SA and sa.state == SaState.ESTABLISHED:
                self._on_create_child_sa(sa, inner, mid, src, dst, now)
            elif exchange == ExchangeType.IKE_FOLLOWUP_KE and sa.state == SaState.ESTABLISHED:
                self._on_followup_ke(sa, inner, mid, src, dst, now)
            sa.settled = True
        except IkeError as e:
            reply = [*e.extra, NotifyPayload.of(e.notify, e.data)]
            self._respond(sa, exchange, mid, reply, src, dst, now)
            if sa.state == SaState.HALF_OPEN:
                self._fail_auth(sa, src, e, now)

    def _on_ike_auth(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        from ikev2d.crypto.keys import IkeKeys

        from .ike_auth import handle_ike_auth
        from .ike_sa_init import HALF_OPEN_TIMEOUT
        from .lifetimes import hard_lifetime, rekey_delay
        from .tasks import keys_event

        sa.local, sa.remote = dst, src  # the client may have floated to port 4500
        if sa.pending_ke:
            from .intermediate import require_key_exchanges

            require_key_exchanges(sa)
        result = handle_ike_auth(self, sa, inner, now)
        self._respond(sa, ExchangeType.IKE_AUTH, mid, result.payloads, src, dst, now,
                      delay=result.delay)  # fmt: skip
        if result.wrong_password:  # count every refused password, retry or not
            self._throttle.note_failure(src[0], now)
        if not result.done:  # EAP rounds follow; a person may be typing a password
            sa.expires = now + HALF_OPEN_TIMEOUT
            self.schedule(sa)
            return
        cfg = self.config
        self._half_open.remove(sa.init_ip)
        sa.move_to(SaState.ESTABLISHED)
        sa.established, sa.expires, sa.eap = now, None, None
        sa.rekey_at = now + rekey_delay(cfg.ike_lifetime, self.rng)
        sa.hard_expiry = now + hard_lifetime(cfg.ike_lifetime)
        self._by_init.pop((sa.spi_i, sa.init_from), None)
        sa.init_request = sa.init_response = b""  # needed no more: keep the SA small
        sa.int_auth, sa.codec_in_prev = b"", None
        if result.child is not None:
            sa.virtual_ip = str(result.child.virtual_ip)
            if result.child.virtual_ip6 is not None:
                sa.virtual_ip6 = str(result.child.virtual_ip6)
            sa.children.append(result.child.child)
        self.emit(
            ev.IkeSaEstablished(
                sa.handle, _who(sa), sa.remote, sa.virtual_ip, sa.nat, sa.algorithms,
                sa.virtual_ip6,
            )
        )  # fmt: skip
        if self.export_keys:
            self.emit(keys_event(sa))
        # from here on only SK_d is needed (new Child SAs, IKE rekey); the rest sits in the
        # codecs or is spent: do not keep it per client
        sa.keys = IkeKeys(sa.keys.sk_d, b"", b"", b"", b"", b"", b"")
        sa.nonce_i = sa.nonce_r = b""
        if result.child is not None:
            self.emit(ev.ChildSaInstalled(sa.handle, result.child.child.spec))
        elif result.child_error is not None:
            self.emit(ev.NegotiationFailed(src, result.child_error.reason, result.child_error.code))
        self.schedule(sa)

    def _on_intermediate(self, sa: IkeSa, inner, request, mid: int, src, dst) -> None:
        """An RFC 9242 exchange before IKE_AUTH; its keys take over once it is answered."""
        from .intermediate import complete_intermediate, handle_intermediate

        sa.local, sa.remote = dst, src  # NAT: the client moves to port 4500 here (§2.23)
        done = handle_intermediate(sa, inner, self.rng)
        self._respond(sa, ExchangeType.IKE_INTERMEDIATE, mid, done.payloads, src, dst)
        complete_intermediate(sa, mid, request, done)

    def _fail_auth(
        self, sa: IkeSa, src: Address, error: IkeError, now: float, throttle: bool = True
    ) -> None:
        identity = _who(sa) if sa.identity is not None else "?"
        if isinstance(error, AuthenticationFailed):
            self.emit(ev.AuthenticationFailed(src, identity, error.reason, error.code))
            if throttle:
                self._throttle.note_failure(src[0], now)
        self.forget(sa)  # nothing is kept of a failed authentication

    def _on_abandoned_auth(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        """An INFORMATIONAL before IKE_AUTH finished: answered; if it ends the attempt
        (the client gave up), the failure is reported and nothing is kept."""
        from .eap_auth import abandoned_failure

        self._respond(sa, ExchangeType.INFORMATIONAL, mid, [], src, dst)
        failure = abandoned_failure(sa, inner)
        if failure is not None:
            # a refused password was counted by the throttle already
            self._fail_auth(sa, src, failure, now, throttle=False)

    def _on_informational(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        from .informational import handle_informational, refusal_reason
        from .mobike import follow_client

        result = handle_informational(sa, inner)
        if result.refused_us and not sa.settled:  # §2.21.2: right after our IKE_AUTH answer
            self._respond(sa, ExchangeType.INFORMATIONAL, mid, [], src, dst)
            reason = refusal_reason(sa.auth_method)
            self.emit(ev.AuthenticationFailed(src, _who(sa), reason, "server_refused"))
            self.terminate(sa, "the client refused the server's authentication")
            self.forget(sa)
            return
        payloads = result.payloads
        if result.update_addresses and sa.mobike:
            payloads = payloads + follow_client(self, sa, src, dst, inner)
        self._respond(sa, ExchangeType.INFORMATIONAL, mid, payloads, src, dst)
        for child in result.removed:
            self.remove_child(sa, child)
        if result.delete_ike:
            self.terminate(sa, "deleted by the client")
            self.forget(sa)

    def _on_create_child_sa(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        from .create_child import handle_create_child_sa

        result = handle_create_child_sa(
            sa, inner, now, self.config, self.allocate_spi, self.rng, self.new_spi
        )
        self._respond(sa, ExchangeType.CREATE_CHILD_SA, mid, result.payloads, src, dst)
        self._created(sa, result)

    def _on_followup_ke(self, sa: IkeSa, inner, mid: int, src, dst, now) -> None:
        """RFC 9370 §2.2.4: an additional key exchange of a CREATE_CHILD_SA we answered."""
        from .followup import handle_followup_ke

        result = handle_followup_ke(sa, inner, now, self.rng)
        self._respond(sa, ExchangeType.IKE_FOLLOWUP_KE, mid, result.payloads, src, dst)
        self._created(sa, result)

    def _created(self, sa: IkeSa, result) -> None:
        """Install what a CREATE_CHILD_SA (with its IKE_FOLLOWUP_KEs) made, if done."""
        from .create_child import ChildCreated, IkeRekeyed
        from .tasks import keys_event

        if isinstance(result, ChildCreated):
            sa.children.append(result.child)
            old = result.replaces
            if old is not None:
                old.replaced = True
                old.replaced_by = result.child
            self.emit(
                ev.ChildSaInstalled(
                    sa.handle, result.child.spec, old.spec.inbound_spi if old else None
                )
            )
        elif isinstance(result, IkeRekeyed):
            new = result.new_sa
            sa.move_to(SaState.REKEYED)
            sa.window.queued.clear()
            for child in new.children:  # what was queued on the old SA is redone on the new
                child.rekeying = False
            self.adopt(new)
            self.emit(ev.IkeSaRekeyed(sa.handle, new.handle))
            if self.export_keys:
                self.emit(keys_event(new))
        self.schedule(sa)

    # -- responses to our own requests ---------------------------------------------------
    def _on_response(self, sa: IkeSa, data: bytes, header: Header, src, dst, now) -> None:
        from .protection import open_message

        pending = sa.window.take_response(header.message_id)
        if pending is None:
            return
        inner = open_message(sa, data, now)
        if inner is None:
            return
        sa.window.pending = None
        sa.settled = True
        if isinstance(inner, ParseError):
            inner = [NotifyPayload.of(NotifyType.INVALID_SYNTAX)]
        if pending.on_response is not None:
            pending.on_response(inner, now)
        if pending.kind == "delete-ike":
            self.forget(sa)
            return
        self._next_queued(sa, now)

    def _next_queued(self, sa: IkeSa, now: float) -> None:
        window = sa.window
        if window.queued and window.pending is None and sa.state != SaState.DEAD:
            q = window.queued.pop(0)
            self.send_request(sa, q.exchange, q.payloads, now, q.kind, q.on_response)
        self.schedule(sa)

    # -- timers ----------------------------------------------------------------------------
    def _on_sa_timer(self, sa: IkeSa, now: float) -> None:
        from .eap_auth import EapSession
        from .tasks import on_timer

        delayed = sa.window.release_delayed(now)
        if delayed is not None:
            self._outbox.extend((d, delayed.local, delayed.remote) for d in delayed.datagrams)
        if sa.expires is not None and sa.expires <= now:
            if isinstance(sa.eap, EapSession) and sa.eap.wrong_passwords:
                reason = f"EAP-MSCHAPv2: wrong password ({sa.eap.wrong_passwords} tries), no retry"
                self.emit(ev.AuthenticationFailed(sa.remote, _who(sa), reason, "password_wrong"))
            self.forget(sa)  # half-open too long: no IKE_AUTH came, or EAP stalled
            return
        cfg = self.config
        resend = sa.window.resend_due(now, cfg.retransmit_timeout, cfg.retransmit_tries)
        if resend is None:
            self.terminate(sa, "the client stopped answering")
            self.forget(sa)
            return
        self._outbox.extend((d, sa.local, sa.remote) for d in resend)
        if sa.state == SaState.ESTABLISHED:
            on_timer(self, sa, now)
        self.schedule(sa)

    # -- protection ----------------------------------------------------------------------
    def _respond(
        self, sa: IkeSa, exchange: int, mid: int, payloads, src, dst, now: float = 0.0,
        delay: float = 0.0,
    ) -> None:  # fmt: skip
        from .protection import seal

        header = Header(
            sa.spi_i, sa.spi_r, exchange, mid, initiator=sa.initiator, response=True
        ).encode()
        datagrams = seal(sa, header, payloads, self.config, self.rng)
        now_out = sa.window.answered(mid, datagrams, dst, src, now, delay)
        self._outbox.extend((d, dst, src) for d in now_out)
        if delay > 0:
            self.schedule(sa)


def _authenticated(sa: IkeSa) -> object:
    """Who authenticated: by which method, as which user (or IKE identity); the lease key."""
    from .child import pool_key

    return pool_key(sa)


def _who(sa: IkeSa) -> str:
    """How status and logs name the client: its EAP/certificate user, else its IKE identity."""
    return sa.user if sa.user is not None else str(sa.identity)


def _deadline(sa: IkeSa, config: ServerConfig) -> float | None:
    """The earliest moment something is due for `sa` (see Responder._on_sa_timer)."""
    times = [sa.expires, sa.window.next_due()]
    if sa.state == SaState.ESTABLISHED:
        from .tasks import due_times

        times += due_times(sa, config)
    times = [t for t in times if t is not None]
    return min(times) if times else None
