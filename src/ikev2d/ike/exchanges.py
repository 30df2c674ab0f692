"""Messages inside an IKE SA: the peer's requests, routed to their exchange, and the
responses to ours, handed to the request that waits for them.

   IKE_AUTH, IKE_INTERMEDIATE, INFORMATIONAL (half-open: the client gives up)  ->  before
   INFORMATIONAL, CREATE_CHILD_SA, IKE_FOLLOWUP_KE                               ->  after

Every IkeError an exchange raises is answered here, in one place, with its notify; a failed
authentication also ends the half-open SA. The message-ID window (`window`) decides first
whether a request is new, a retransmission or out of window. The responder loads this module
with the first client (its imports are the whole exchange code).
"""

from __future__ import annotations

from ikev2d.crypto.keys import IkeKeys
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import Header
from ikev2d.wire.payloads import NotifyPayload, Payload

from . import events as ev
from .context import Context
from .create_child import ChildCreated, IkeRekeyed, handle_create_child_sa
from .eap_auth import abandoned_failure
from .errors import AuthenticationFailed, IkeError
from .events import Address
from .followup import handle_followup_ke
from .ike_auth import handle_ike_auth
from .ike_sa_init import HALF_OPEN_TIMEOUT
from .informational import handle_informational, refusal_reason
from .intermediate import complete_intermediate, handle_intermediate, require_key_exchanges
from .lifetimes import hard_lifetime, rekey_delay
from .mobike import follow_client
from .protection import decode_inner, is_retransmission, open_message, open_plain
from .sa import Answer, IkeSa, SaState
from .tasks import keys_event
from .window import RequestVerdict

__all__ = ["on_request", "on_response"]


# -- the peer's requests -----------------------------------------------------------------------
def on_request(
    ctx: Context, sa: IkeSa, data: bytes, header: Header, src: Address, dst: Address, now: float
) -> None:
    mid = header.message_id
    verdict = sa.window.verdict(mid)
    if verdict == RequestVerdict.RETRANSMITTED:
        last = sa.window.last_response
        if last and is_retransmission(sa, data):
            ctx.transmit(last, dst, src)
        return
    if verdict == RequestVerdict.OUT_OF_WINDOW or sa.closed_until is not None:
        return
    opened = open_plain(sa, data, now)
    if opened is None:
        return
    inner = decode_inner(opened)
    exchange = header.exchange
    try:
        if isinstance(inner, ParseError):
            raise IkeError(f"malformed encrypted payloads: {inner}")
        if sa.state == SaState.HALF_OPEN:
            _before_auth(ctx, sa, exchange, inner, (data[:28], *opened), mid, src, dst, now)
            return
        if (src, dst) != (sa.remote, sa.local) and not sa.client.mobike and sa.nat_remote:
            follow_client(ctx, sa, src, dst)  # a NAT re-mapped the client (§2.23)
        if exchange == ExchangeType.INFORMATIONAL:
            _on_informational(ctx, sa, inner, mid, src, dst, now)
        elif exchange == ExchangeType.CREATE_CHILD_SA and sa.state == SaState.ESTABLISHED:
            result = handle_create_child_sa(ctx, sa, inner, now)
            ctx.respond(sa, exchange, mid, result.payloads, src, dst)
            _created(ctx, sa, result)
        elif exchange == ExchangeType.IKE_FOLLOWUP_KE and sa.state == SaState.ESTABLISHED:
            # RFC 9370 §2.2.4: an additional key exchange of a CREATE_CHILD_SA we answered
            followup = handle_followup_ke(sa, inner, now, ctx.rng)
            ctx.respond(sa, exchange, mid, followup.payloads, src, dst)
            _created(ctx, sa, followup)
        sa.settled = True
    except IkeError as e:
        reply = [*e.extra, NotifyPayload.of(e.notify, e.data)]
        ctx.respond(sa, exchange, mid, reply, src, dst, now)
        if sa.state == SaState.HALF_OPEN:
            _fail_auth(ctx, sa, src, e, now)


def _before_auth(
    ctx: Context, sa: IkeSa, exchange: int, inner: list[Payload],
    request: tuple[bytes, int, bytes], mid: int, src: Address, dst: Address, now: float,
) -> None:  # fmt: skip
    if exchange == ExchangeType.IKE_AUTH:
        _on_ike_auth(ctx, sa, inner, mid, src, dst, now)
    elif exchange == ExchangeType.IKE_INTERMEDIATE:
        # RFC 9242: its keys take over once it is answered
        sa.local, sa.remote = dst, src  # NAT: the client moves to port 4500 here (§2.23)
        done = handle_intermediate(sa, inner, ctx.rng)
        ctx.respond(sa, exchange, mid, done.payloads, src, dst)
        complete_intermediate(sa, mid, request, done)
    elif exchange == ExchangeType.INFORMATIONAL:
        # answered; if it ends the attempt (the client gave up), the failure is reported
        ctx.respond(sa, exchange, mid, [], src, dst)
        failure = abandoned_failure(sa, inner)
        if failure is not None:  # a refused password was counted by the throttle already
            _fail_auth(ctx, sa, src, failure, now, throttle=False)


def _on_ike_auth(
    ctx: Context, sa: IkeSa, inner: list[Payload], mid: int, src: Address, dst: Address,
    now: float,
) -> None:  # fmt: skip
    sa.local, sa.remote = dst, src  # the client may have floated to port 4500
    require_key_exchanges(sa)
    result = handle_ike_auth(ctx, sa, inner, now)
    ctx.respond(sa, ExchangeType.IKE_AUTH, mid, result.payloads, src, dst, now,
                delay=result.delay)  # fmt: skip
    if result.wrong_password:  # count every refused password, retry or not
        ctx.note_auth_failure(src[0], now)
    if not result.done:  # EAP rounds follow; a person may be typing a password
        sa.half_open.expires = now + HALF_OPEN_TIMEOUT
        ctx.schedule(sa)
        return
    cfg = ctx.config
    ctx.leave_half_open(sa)
    sa.move_to(SaState.ESTABLISHED)
    sa.client.established = now
    sa.rekey_at = now + rekey_delay(cfg.ike_lifetime, ctx.rng)
    sa.hard_expiry = now + hard_lifetime(cfg.ike_lifetime)
    if result.child is not None:
        sa.client.virtual_ip = str(result.child.virtual_ip)
        if result.child.virtual_ip6 is not None:
            sa.client.virtual_ip6 = str(result.child.virtual_ip6)
        sa.children.append(result.child.child)
    ctx.emit(
        ev.IkeSaEstablished(
            sa.handle, sa.client.name, sa.remote, sa.client.virtual_ip, sa.nat, sa.algorithms,
            sa.client.virtual_ip6,
        )
    )  # fmt: skip
    if ctx.export_keys:
        ctx.emit(keys_event(sa))
    # from here on only SK_d is needed (new Child SAs, IKE rekey); the rest sits in the
    # codecs or is spent: do not keep it per client
    sa.keys = IkeKeys(sa.keys.sk_d, b"", b"", b"", b"", b"", b"")
    sa.handshake = None
    if result.child is not None:
        ctx.emit(ev.ChildSaInstalled(sa.handle, result.child.child.spec))
    elif result.child_error is not None:
        ctx.emit(ev.NegotiationFailed(src, result.child_error.reason, result.child_error.code))
    ctx.schedule(sa)


def _fail_auth(
    ctx: Context, sa: IkeSa, src: Address, error: IkeError, now: float, throttle: bool = True
) -> None:
    identity = sa.client.name if sa.client.identity is not None else "?"
    if isinstance(error, AuthenticationFailed):
        ctx.emit(ev.AuthenticationFailed(src, identity, error.reason, error.code))
        if throttle:
            ctx.note_auth_failure(src[0], now)
    ctx.forget(sa)  # nothing is kept of a failed authentication


def _on_informational(
    ctx: Context, sa: IkeSa, inner: list[Payload], mid: int, src: Address, dst: Address,
    now: float,
) -> None:  # fmt: skip
    result = handle_informational(sa, inner)
    if result.refused_us and not sa.settled:  # §2.21.2: right after our IKE_AUTH answer
        ctx.respond(sa, ExchangeType.INFORMATIONAL, mid, [], src, dst)
        reason = refusal_reason(sa.client.auth_method)
        ctx.emit(ev.AuthenticationFailed(src, sa.client.name, reason, "server_refused"))
        ctx.terminate(sa, "the client refused the server's authentication")
        ctx.forget(sa)
        return
    payloads = result.payloads
    if result.update_addresses and sa.client.mobike:
        payloads = payloads + follow_client(ctx, sa, src, dst, inner)
    ctx.respond(sa, ExchangeType.INFORMATIONAL, mid, payloads, src, dst)
    for child in result.removed:
        ctx.remove_child(sa, child)
    if result.delete_ike:
        ctx.terminate(sa, "deleted by the client")
        if (oldest := ctx.closed.add(sa, now)) is not None:
            ctx.forget(oldest)
        ctx.schedule(sa)


def _created(ctx: Context, sa: IkeSa, result: Answer) -> None:
    """Install what a CREATE_CHILD_SA (with its IKE_FOLLOWUP_KEs) made, if done."""
    if isinstance(result, ChildCreated):
        sa.children.append(result.child)
        old = result.replaces
        if old is not None:
            old.replaced = True
            old.replaced_by = result.child
        replaces = old.spec.inbound_spi if old is not None else None
        ctx.emit(ev.ChildSaInstalled(sa.handle, result.child.spec, replaces))
    elif isinstance(result, IkeRekeyed):
        new = result.new_sa
        sa.move_to(SaState.REKEYED)
        sa.window.queued.clear()
        for child in new.children:  # what was queued on the old SA is redone on the new
            child.rekeying = False
        ctx.adopt(new)
        ctx.emit(ev.IkeSaRekeyed(sa.handle, new.handle))
        if ctx.export_keys:
            ctx.emit(keys_event(new))
    ctx.schedule(sa)


# -- responses to our own requests -------------------------------------------------------------
def on_response(ctx: Context, sa: IkeSa, data: bytes, header: Header, now: float) -> None:
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
        ctx.forget(sa)
        return
    window = sa.window
    if window.queued and window.pending is None and sa.state != SaState.DEAD:
        q = window.queued.pop(0)
        ctx.send_request(sa, q.exchange, q.payloads, now, q.kind, q.on_response)
    ctx.schedule(sa)
