"""CREATE_CHILD_SA requests from the client (RFC 7296 §1.3), routed by what they carry:

   { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } -->  <-- { SA, Nr, [KEr], TSi, TSr }   Child rekey
   { SA, Ni, [KEi], TSi, TSr } -->               <-- { SA, Nr, [KEr], TSi, TSr }   new Child SA
   { SA, Ni, KEi } -->                           <-- { SA, Nr, KEr }               IKE SA rekey

With RFC 9370 additional key exchanges chosen, the response also carries
N(ADDITIONAL_KEY_EXCHANGE) and the new SA is made only after the IKE_FOLLOWUP_KE exchanges
(followup.py), from the secrets of all of them.

A rekeyed Child SA is installed next to the old one (make before break); the client deletes
the old one. A rekeyed IKE SA takes over the client (who it is, how it authenticated, its
address: `sa.carry_client_state`) and the Child SAs; the old one only waits for the client's
Delete.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikev2d.crypto.keys import derive_child_keys, derive_rekeyed_ike_keys
from ikev2d.crypto.prf import shared_prf
from ikev2d.crypto.sk import SkCodec
from ikev2d.policy.config import ServerConfig
from ikev2d.policy.proposals import Proposal as Configured
from ikev2d.wire.enums import ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.payloads import KePayload, NoncePayload, NotifyPayload, Payload
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload

from .child import make_child, narrow_for
from .context import Context, Rng
from .errors import ChildSaNotFound, InvalidSyntax, NoProposalChosen, TemporaryFailure
from .followup import FollowupsPending, start_followups
from .ike_sa_init import NONCE_LEN, run_key_exchange
from .lifetimes import hard_lifetime, rekey_delay
from .negotiate import (
    SUPPORTED_GROUPS,
    additional_ke_policy,
    choose_ike_proposal,
    choose_rekey_child_proposal,
)
from .rules import check_request
from .sa import ChildSa, IkeSa, SaState, carry_client_state
from .window import MessageWindow

__all__ = ["ChildCreated", "IkeRekeyed", "handle_create_child_sa", "rekeyed_ike_sa"]


@dataclass(slots=True)
class ChildCreated:
    payloads: list[Payload]
    child: ChildSa
    replaces: ChildSa | None


@dataclass(slots=True)
class IkeRekeyed:
    payloads: list[Payload]
    new_sa: IkeSa


def _key_exchange(
    ke: KePayload | None, group: int | None, rng: Rng
) -> tuple[KePayload | None, bytes | None]:
    """(our KE payload, g^ir) for a PFS group, or (None, None)."""
    if group is None:
        if ke is not None:
            raise InvalidSyntax("KE payload without a KE transform in the chosen proposal")
        return None, None
    if ke is None or ke.group != group:
        raise InvalidSyntax("KE payload missing or of another group")
    public, shared = run_key_exchange(group, ke.data, rng)
    return KePayload(group, public), shared


def _create_child(
    ctx: Context, sa: IkeSa, inner: list[Payload], now: float
) -> ChildCreated | FollowupsPending:
    config, rng = ctx.config, ctx.rng
    sa_payload = next(p for p in inner if isinstance(p, SaPayload))
    tsi = next((p for p in inner if isinstance(p, TsiPayload)), None)
    tsr = next((p for p in inner if isinstance(p, TsrPayload)), None)
    if tsi is None or tsr is None:
        raise InvalidSyntax("Child SA request without traffic selectors")
    rekey = next(
        (p for p in inner if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.REKEY_SA),
        None,
    )
    old = None
    if rekey is not None:
        old = sa.child_by_spi(rekey.spi_int or 0) if rekey.protocol == ProtocolId.ESP else None
        if old is None or old.spec.outbound_spi != rekey.spi_int:
            raise ChildSaNotFound(f"no Child SA with SPI {rekey.spi_int or 0:#x} to rekey")
    ke = next((p for p in inner if isinstance(p, KePayload)), None)
    chosen = choose_rekey_child_proposal(
        config.esp_proposal, sa_payload, ke.group if ke else None, SUPPORTED_GROUPS,
        additional_ke_policy(config.post_quantum),
    )  # fmt: skip
    ke_reply, shared = _key_exchange(ke, chosen.ke_group, rng)
    local_ts, remote_ts = narrow_for(sa, tsi, tsr, config)
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    nonce_r = rng(NONCE_LEN)
    inbound_spi = ctx.allocate_spi(sa.local[0], sa.remote[0])
    c = chosen.configured

    def finish(additional: bytes, payloads: list[Payload], at: float) -> ChildCreated:
        keys = derive_child_keys(
            sa.prf, sa.keys.sk_d, c.encr, c.integ, nonce_i, nonce_r, shared, additional
        )
        child = make_child(
            sa, chosen, inbound_spi, chosen.offered.spi_int or 0, (local_ts, remote_ts),
            keys.i_to_r, keys.r_to_i, config, rng, at, (nonce_i, nonce_r),
        )  # fmt: skip
        return ChildCreated(payloads, child, old)

    payloads: list[Payload] = [
        SaPayload((chosen.reply_proposal(inbound_spi.to_bytes(4, "big")),)),
        NoncePayload(nonce_r),
    ]
    if ke_reply is not None:
        payloads.append(ke_reply)
    payloads += [TsiPayload(remote_ts), TsrPayload(local_ts)]
    if chosen.additional:
        return start_followups(sa, chosen.additional_methods, finish, payloads, now, rng)
    return finish(b"", payloads, now)


def rekeyed_ike_sa(
    old: IkeSa,
    config: ServerConfig,
    *,
    initiator: bool,
    new_spi_i: bytes,
    new_spi_r: bytes,
    chosen_conf: Configured,
    nonce_i: bytes,
    nonce_r: bytes,
    shared: bytes,
    now: float,
    rng: Rng,
    additional: bytes = b"",
    additional_ke: tuple[tuple[int, int], ...] = (),
) -> IkeSa:
    """The IKE SA that replaces `old`, keyed per §2.18, holding old's client state;
    `additional` the secrets of its RFC 9370 key exchanges `additional_ke`."""
    prf = shared_prf(chosen_conf.prf)
    keys = derive_rekeyed_ike_keys(
        old.prf, old.keys.sk_d, prf, chosen_conf.encr, chosen_conf.integ,
        nonce_i, nonce_r, new_spi_i, new_spi_r, shared, additional,
    )  # fmt: skip
    inbound, outbound = (keys.r_to_i, keys.i_to_r) if initiator else (keys.i_to_r, keys.r_to_i)
    new = IkeSa(
        spi_i=new_spi_i, spi_r=new_spi_r, local=old.local, remote=old.remote,
        proposal=chosen_conf, prf=prf, keys=keys,
        codec_in=SkCodec(chosen_conf.encr, chosen_conf.integ, inbound),
        codec_out=SkCodec(chosen_conf.encr, chosen_conf.integ, outbound),
        created=now, initiator=initiator,
        nat_remote=old.nat_remote, nat_local=old.nat_local, state=SaState.ESTABLISHED,
        window=MessageWindow(next_request_id=0),
    )  # fmt: skip
    carry_client_state(old, new)
    new.children, old.children = old.children, []
    new.last_inbound = now
    new.rekey_at = now + rekey_delay(config.ike_lifetime, rng)
    new.hard_expiry = now + hard_lifetime(config.ike_lifetime)
    new.rekey_nonces = (nonce_i, nonce_r)
    new.additional_ke = additional_ke
    return new


def _rekey_ike(
    sa: IkeSa, inner: list[Payload], now: float, config: ServerConfig, new_spi: bytes, rng: Rng
) -> IkeRekeyed | FollowupsPending:
    sa_payload = next(p for p in inner if isinstance(p, SaPayload))
    ke = next((p for p in inner if isinstance(p, KePayload)), None)
    if ke is None:
        raise InvalidSyntax("IKE SA rekey without KE")
    chosen = choose_ike_proposal(
        config.ike_proposal, sa_payload, ke.group, additional_ke_policy(config.post_quantum)
    )
    if len(chosen.offered.spi) != 8:
        raise InvalidSyntax("IKE SA rekey proposal without an 8-byte SPI")
    conf = chosen.configured
    our_public, shared = run_key_exchange(conf.group, ke.data, rng)
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    nonce_r = rng(NONCE_LEN)

    def finish(additional: bytes, payloads: list[Payload], at: float) -> IkeRekeyed:
        new = rekeyed_ike_sa(
            sa, config, initiator=False, new_spi_i=chosen.offered.spi, new_spi_r=new_spi,
            chosen_conf=conf, nonce_i=nonce_i, nonce_r=nonce_r, shared=shared, now=at, rng=rng,
            additional=additional, additional_ke=chosen.additional,
        )  # fmt: skip
        return IkeRekeyed(payloads, new)

    payloads: list[Payload] = [
        SaPayload((chosen.reply_proposal(new_spi),)),
        NoncePayload(nonce_r),
        KePayload(conf.group, our_public),
    ]
    if chosen.additional:
        return start_followups(sa, chosen.additional_methods, finish, payloads, now, rng)
    return finish(b"", payloads, now)


def handle_create_child_sa(
    ctx: Context, sa: IkeSa, inner: list[Payload], now: float
) -> ChildCreated | IkeRekeyed | FollowupsPending:
    check_request(ExchangeType.CREATE_CHILD_SA, inner)
    sa_payload = next(p for p in inner if isinstance(p, SaPayload))
    protocols = {p.protocol for p in sa_payload.proposals}
    if protocols == {ProtocolId.IKE}:
        if sa.rekeying or any(c.rekeying for c in sa.children):
            # §2.25: while we rekey, a colliding IKE rekey from the peer is refused
            raise TemporaryFailure("an exchange of ours on this IKE SA is in flight")
        return _rekey_ike(sa, inner, now, ctx.config, ctx.new_spi(), ctx.rng)
    if ProtocolId.ESP not in protocols:
        raise NoProposalChosen("only ESP Child SAs are offered")
    return _create_child(ctx, sa, inner, now)
