"""Requests the server starts itself (RFC 7296 §1.3-§1.4, §2.4, §2.8): liveness checks,
Child SA and IKE SA rekeying, and Delete. Each builds its request and a closure that finishes
the exchange when the response arrives; `Responder.send_request` sends or queues them.

   DPD:          { } -->                                            <-- { }
   Child rekey:  { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } -->      <-- { SA, Nr, [KEr], TSi, TSr }
   IKE rekey:    { SA, Ni, KEi } -->                                <-- { SA, Nr, KEr }
   Delete:       { D } -->                                          <-- { [D] }

A rekey repeats the SA's RFC 9370 additional key exchanges (ML-KEM): offered as ADDKE
transforms, then run in IKE_FOLLOWUP_KE exchanges (followup.run_followups) before the new SA
is made.

In exchanges we start, we are the "initiator" of §2.17's key order: the first keys of KEYMAT
protect what we send.
"""

from __future__ import annotations

from ikev2d.crypto import errors as crypto_errors
from ikev2d.crypto.dh import ephemeral_key_exchange
from ikev2d.crypto.keys import derive_child_keys
from ikev2d.policy.proposals import Proposal as Configured
from ikev2d.wire.enums import ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.payloads import DeletePayload, KePayload, NoncePayload, NotifyPayload, Payload
from ikev2d.wire.sa import Proposal, SaPayload, Transform
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload

from . import events as ev
from .child import make_child
from .context import Context
from .create_child import rekeyed_ike_sa
from .errors import IkeError
from .followup import run_followups
from .ike_sa_init import NONCE_LEN
from .negotiate import ADDKE_TYPES, Chosen
from .sa import ChildSa, IkeSa, SaState

__all__ = [
    "child_expired",
    "delete_child",
    "delete_ike",
    "keys_event",
    "liveness_check",
    "on_sa_timer",
    "on_timer",
    "rekey_child",
    "rekey_ike",
]

RETRY_AFTER_TEMPORARY_FAILURE = 10.0  # seconds (plus jitter) before trying a rekey again
_INFO, _CCSA = ExchangeType.INFORMATIONAL, ExchangeType.CREATE_CHILD_SA


def _retry_delay(ctx: Context) -> float:
    return RETRY_AFTER_TEMPORARY_FAILURE + int.from_bytes(ctx.rng(1), "big") / 32


def _notify(inner: list[Payload], *types: int) -> NotifyPayload | None:
    for p in inner:
        if isinstance(p, NotifyPayload) and p.notify_type in types:
            return p
    return None


def _first_error(inner: list[Payload]) -> NotifyPayload | None:
    return next((p for p in inner if isinstance(p, NotifyPayload) and p.is_error), None)


# -- timers ------------------------------------------------------------------------------------
def on_sa_timer(ctx: Context, sa: IkeSa, now: float) -> None:
    """What is due for `sa` at `now` (its deadline: responder._deadline): a held-back
    response, the half-open expiry, a retransmission, and for an established SA, `on_timer`."""
    if sa.closed_until is not None:
        if sa.closed_until <= now:
            ctx.forget(sa)
        return
    delayed = sa.window.release_delayed(now)
    if delayed is not None:
        ctx.transmit(delayed.datagrams, delayed.local, delayed.remote)
    hs = sa.handshake
    if hs is not None and hs.expires <= now:
        if hs.eap is not None and hs.eap.wrong_passwords:
            reason = f"EAP-MSCHAPv2: wrong password ({hs.eap.wrong_passwords} tries), no retry"
            ctx.emit(ev.AuthenticationFailed(sa.remote, sa.client.name, reason, "password_wrong"))
        ctx.forget(sa)  # half-open too long: no IKE_AUTH came, or EAP stalled
        return
    cfg = ctx.config
    resend = sa.window.resend_due(now, cfg.retransmit_timeout, cfg.retransmit_tries)
    if resend is None:
        ctx.terminate(sa, "the client stopped answering")
        ctx.forget(sa)
        return
    ctx.transmit(resend, sa.local, sa.remote)
    if sa.state == SaState.ESTABLISHED:
        on_timer(ctx, sa, now)
    ctx.schedule(sa)


def child_expired(ctx: Context, sa: IkeSa, child: ChildSa, hard: bool, now: float) -> None:
    """The kernel's soft (rekey now) or hard (gone) lifetime of `child` ran out."""
    if not hard:
        if not (child.rekeying or child.replaced):
            rekey_child(ctx, sa, child, now)
        return
    ctx.remove_child(sa, child)
    if not child.replaced:
        delete_child(ctx, sa, child, now)
    if not sa.children:
        ctx.disconnect(sa, now, "tunnel lifetime ended")


def on_timer(ctx: Context, sa: IkeSa, now: float) -> None:
    if sa.hard_expiry is not None and sa.hard_expiry <= now:
        ctx.disconnect(sa, now, "IKE SA lifetime ended")
        return
    if not sa.rekeying and sa.rekey_at is not None and sa.rekey_at <= now:
        rekey_ike(ctx, sa, now)
    for child in list(sa.children):
        if not (child.rekeying or child.replaced) and child.rekey_at and child.rekey_at <= now:
            rekey_child(ctx, sa, child, now)
    dpd = ctx.config.dpd_delay
    if dpd and not sa.window.busy and sa.last_inbound + dpd <= now:
        liveness_check(ctx, sa, now)


# -- liveness and Delete ------------------------------------------------------------------------
def liveness_check(ctx: Context, sa: IkeSa, now: float) -> None:
    """An empty INFORMATIONAL request; no answer after the retransmissions ends the SA."""
    ctx.send_request(sa, _INFO, [], now, "dpd")


def delete_child(ctx: Context, sa: IkeSa, child: ChildSa, now: float) -> None:
    ctx.send_request(
        sa, _INFO, [DeletePayload.child(ProtocolId.ESP, [child.spec.inbound_spi])], now,
        "delete-child",
    )  # fmt: skip


def delete_ike(ctx: Context, sa: IkeSa, now: float) -> None:
    ctx.send_request(sa, _INFO, [DeletePayload.ike()], now, "delete-ike")


# -- Child SA rekey -----------------------------------------------------------------------------
def _wire_proposal(
    c: Configured, spi: bytes, group: int | None, protocol: int,
    additional: tuple[tuple[int, int], ...] = (), number: int = 1,
) -> Proposal:  # fmt: skip
    transforms = [Transform(int(t.type), int(t.id), t.key_bits) for t in c.transforms]
    if group is not None and protocol != ProtocolId.IKE:
        transforms.append(Transform(4, group))
    if group is not None and protocol == ProtocolId.IKE:  # another group after INVALID_KE
        transforms = [Transform(4, group) if t.transform_type == 4 else t for t in transforms]
    transforms += [Transform(ttype, method) for ttype, method in additional]
    return Proposal(number, protocol, spi, tuple(transforms))


def _chosen_additional(
    proposal: Proposal, offered: tuple[tuple[int, int], ...]
) -> tuple[tuple[int, int], ...] | None:
    """The ADDKE transforms the peer chose, or None when it chose what we did not offer."""
    chosen = tuple((t.transform_type, t.transform_id) for t in proposal.transforms
                   if t.transform_type in ADDKE_TYPES and t.transform_id)  # fmt: skip
    return chosen if set(chosen) <= set(offered) else None


def _selectors(cidrs: tuple[str, ...]) -> tuple[TrafficSelector, ...]:
    return tuple(TrafficSelector.from_network(n) for n in cidrs)


def rekey_child(ctx: Context, sa: IkeSa, old: ChildSa, now: float) -> None:
    """Make a new Child SA for `old` (same selectors, fresh keys); delete `old` when done."""
    conf = old.proposal
    try:
        inbound_spi = ctx.allocate_spi(sa.local[0], sa.remote[0])
    except IkeError as e:
        old.rekey_at = now + _retry_delay(ctx)
        ctx.emit(ev.NegotiationFailed(sa.remote, f"Child SA rekey postponed: {e.reason}", e.code))
        return
    old.rekeying = True
    group, additional, optional = _child_key_exchanges(sa, old)
    kex = ephemeral_key_exchange(group, ctx.rng) if group is not None else None
    nonce_i = ctx.rng(NONCE_LEN)
    spi = inbound_spi.to_bytes(4, "big")
    proposals = [_wire_proposal(conf, spi, group, ProtocolId.ESP, additional)]
    if optional:  # or, if the client wants no PFS, as before
        proposals.append(_wire_proposal(conf, spi, None, ProtocolId.ESP, (), number=2))
    payloads: list[Payload] = [
        NotifyPayload.rekey_sa(ProtocolId.ESP, old.spec.inbound_spi),
        SaPayload(tuple(proposals)),
        NoncePayload(nonce_i),
    ]
    if kex is not None:
        payloads.append(KePayload(kex.group, kex.public_bytes()))
    # TSi is the side of the exchange's initiator: ours
    payloads += [
        TsiPayload(_selectors(old.spec.local_ts)),
        TsrPayload(_selectors(old.spec.remote_ts)),
    ]

    def fail(reason: str, t: float, retry: bool = False) -> None:
        old.rekeying = False
        old.rekey_at = t + _retry_delay(ctx) if retry else None  # else the hard lifetime ends it
        ctx.emit(ev.NegotiationFailed(sa.remote, f"Child SA rekey refused: {reason}",
                                    "rekey_refused"))  # fmt: skip

    def done(inner: list[Payload], t: float) -> None:
        error = _first_error(inner)
        sa_payload = next((p for p in inner if isinstance(p, SaPayload)), None)
        nonce = next((p for p in inner if isinstance(p, NoncePayload)), None)
        if error is not None or sa_payload is None or nonce is None or old not in sa.children:
            temporary = error is not None and error.notify_type == NotifyType.TEMPORARY_FAILURE
            fail(_why(error), t, retry=temporary)
            return
        proposal = sa_payload.proposals[0]
        chosen_additional = _chosen_additional(proposal, additional)
        pfs = any(t.transform_type == 4 and t.transform_id for t in proposal.transforms)
        shared = None
        if kex is not None and pfs:
            ke = next((p for p in inner if isinstance(p, KePayload)), None)
            try:
                shared = kex.shared_secret(ke.data if ke and ke.group == group else b"")
            except crypto_errors.CryptoError:
                fail("bad KE data", t)
                return
        if chosen_additional is None:
            fail("additional key exchanges we did not offer", t)
            return

        def install(extra: bytes, t2: float) -> None:
            old.rekeying = False
            if old not in sa.children:
                return
            keys = derive_child_keys(sa.prf, sa.keys.sk_d, conf.encr, conf.integ, nonce_i,
                                     nonce.data, shared, extra)  # fmt: skip
            chosen = Chosen(conf, proposal, group if pfs else None, chosen_additional)
            ts = (_selectors(old.spec.local_ts), _selectors(old.spec.remote_ts))
            new = make_child(sa, chosen, inbound_spi, proposal.spi_int or 0, ts, keys.r_to_i,
                             keys.i_to_r, ctx.config, ctx.rng, t2,
                             (nonce_i, nonce.data))  # fmt: skip
            sa.children.append(new)
            ctx.emit(ev.ChildSaInstalled(sa.handle, new.spec, old.spec.inbound_spi))
            _settle_child_collision(ctx, sa, old, new, t2)

        if chosen_additional:
            methods = tuple(m for _, m in chosen_additional)
            run_followups(ctx, sa, methods, inner, install, fail, t)
        else:
            install(b"", t)

    ctx.send_request(sa, _CCSA, payloads, now, "rekey-child", done)


def _child_key_exchanges(
    sa: IkeSa, child: ChildSa
) -> tuple[int | None, tuple[tuple[int, int], ...], bool]:
    """(KE group, ADDKE transforms, whether a proposal without them is offered too) for our
    rekey of `child`: what it was made with; else the configured proposal's group; else, for
    a client that ran ML-KEM for the IKE SA, the IKE SA's group and ML-KEM as an option (a
    strongSwan with PFS lists no group in IKE_AUTH, yet refuses a rekey without one)."""
    if child.key_exchanges:
        (_, group), *additional = child.key_exchanges
        return group, tuple(additional), False
    ke = child.proposal.ke
    if ke is not None or not sa.additional_ke:
        return (int(ke.id) if ke is not None else None), (), False
    return sa.proposal.group, sa.additional_ke, True


def _settle_child_collision(
    ctx: Context, sa: IkeSa, old: ChildSa, ours: ChildSa, now: float
) -> None:
    """§2.8.1: if the client rekeyed `old` at the same time, the new SA whose exchange had
    the lowest nonce is redundant and is deleted by whoever made it."""
    theirs = old.replaced_by
    old.replaced = True
    if theirs is None or theirs not in sa.children:
        old.replaced_by = ours
        ctx.remove_child(sa, old)
        delete_child(ctx, sa, old, now)
        return
    if min(ours.nonces) < min(theirs.nonces):
        ctx.remove_child(sa, ours)  # ours lost: the client deletes `old`
        delete_child(ctx, sa, ours, now)
    else:
        ctx.remove_child(sa, old)  # ours won: we delete `old`, the client deletes its new SA
        delete_child(ctx, sa, old, now)


def _why(error: NotifyPayload | None) -> str:
    if error is None:
        return "malformed response"
    try:
        return NotifyType(error.notify_type).name
    except ValueError:
        return f"notify {error.notify_type}"


# -- IKE SA rekey -------------------------------------------------------------------------------
def rekey_ike(ctx: Context, sa: IkeSa, now: float, group: int | None = None) -> None:
    """Replace the IKE SA with a new one (fresh DH, and its additional key exchanges); the
    Child SAs move over to it."""
    sa.rekeying = True
    conf = sa.proposal
    group = group if group is not None else conf.group
    additional = sa.additional_ke
    kex = ephemeral_key_exchange(group, ctx.rng)
    new_spi = ctx.new_spi()
    nonce_i = ctx.rng(NONCE_LEN)
    proposal = _wire_proposal(conf, new_spi, group, ProtocolId.IKE, additional)
    payloads: list[Payload] = [
        SaPayload((proposal,)),
        NoncePayload(nonce_i),
        KePayload(group, kex.public_bytes()),
    ]

    def fail(reason: str, t: float, retry: bool = False) -> None:
        sa.rekeying = False
        sa.rekey_at = t + _retry_delay(ctx) if retry else None
        ctx.emit(ev.NegotiationFailed(sa.remote, f"IKE SA rekey refused: {reason}",
                                    "rekey_refused"))  # fmt: skip

    def done(inner: list[Payload], t: float) -> None:
        invalid_ke = _notify(inner, NotifyType.INVALID_KE_PAYLOAD)
        if invalid_ke is not None and invalid_ke.data[:2] != group.to_bytes(2, "big"):
            wanted = int.from_bytes(invalid_ke.data[:2], "big")
            if any(p.group == wanted for p in ctx.config.ike_proposal):
                rekey_ike(ctx, sa, t, wanted)
                return
        error = _first_error(inner)
        sa_payload = next((p for p in inner if isinstance(p, SaPayload)), None)
        nonce = next((p for p in inner if isinstance(p, NoncePayload)), None)
        ke = next((p for p in inner if isinstance(p, KePayload)), None)
        if (
            error is not None or sa_payload is None or nonce is None or ke is None
            or sa.state != SaState.ESTABLISHED
        ):  # fmt: skip
            temporary = error is not None and error.notify_type == NotifyType.TEMPORARY_FAILURE
            fail(_why(error), t, retry=temporary)
            return
        peer_spi = sa_payload.proposals[0].spi
        chosen_additional = _chosen_additional(sa_payload.proposals[0], additional)
        try:
            shared = kex.shared_secret(ke.data)
        except crypto_errors.CryptoError:
            fail("bad KE data", t)
            return
        if len(peer_spi) != 8 or chosen_additional is None:
            fail("malformed response", t)
            return
        chosen_conf = conf if group == conf.group else _with_group(ctx, conf, group)

        def replace(extra: bytes, t2: float) -> None:
            sa.rekeying = False
            if sa.state != SaState.ESTABLISHED:
                return
            new = rekeyed_ike_sa(sa, ctx.config, initiator=True, new_spi_i=new_spi,
                                 new_spi_r=peer_spi, chosen_conf=chosen_conf, nonce_i=nonce_i,
                                 nonce_r=nonce.data, shared=shared, now=t2, rng=ctx.rng,
                                 additional=extra, additional_ke=chosen_additional)  # fmt: skip
            for child in new.children:  # Child rekeys queued behind ours are dropped: redo
                child.rekeying = False
            sa.move_to(SaState.REKEYED)
            ctx.adopt(new)
            ctx.emit(ev.IkeSaRekeyed(sa.handle, new.handle))
            if ctx.export_keys:
                ctx.emit(keys_event(new))
            sa.window.queued.clear()
            delete_ike(ctx, sa, t2)  # in the old SA; forgotten when answered or given up

        if chosen_additional:
            methods = tuple(m for _, m in chosen_additional)
            run_followups(ctx, sa, methods, inner, replace, fail, t)
        else:
            replace(b"", t)

    ctx.send_request(sa, _CCSA, payloads, now, "rekey-ike", done)


def _with_group(ctx: Context, conf: Configured, group: int) -> Configured:
    """Our configured proposal like `conf` but with KE `group` (after INVALID_KE_PAYLOAD)."""
    for p in ctx.config.ike_proposal:
        if p.group == group and (p.encr, p.prf, p.integ) == (conf.encr, conf.prf, conf.integ):
            return p
    return next(p for p in ctx.config.ike_proposal if p.group == group)


def keys_event(sa: IkeSa) -> ev.IkeKeysDerived:
    p, k = sa.proposal, sa.keys
    integ = p.integ.iana_name if p.integ is not None else "NONE"
    return ev.IkeKeysDerived(sa.spi_i, sa.spi_r, p.encr.keyword, k.sk_ei, k.sk_er, integ,
                             k.sk_ai, k.sk_ar)  # fmt: skip
