"""Child SAs: the first one inside IKE_AUTH, and the pieces every Child SA is built from.

   { ..., CP(CFG_REQUEST), SAi2, TSi, TSr } -->
                       <-- { ..., CP(CFG_REPLY), SAr2, TSi, TSr }

A remote-access client must ask for an address (else FAILED_CP_REQUIRED); it gets one from the
pool, its TSi narrows to that address and its TSr to the subnets we offer.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from ikev2d.crypto.keys import DirectionKeys, derive_child_keys
from ikev2d.policy.config import ServerConfig
from ikev2d.policy.pool import AddressPool, PoolError
from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.enums import CfgAttr, CfgType, EsnId
from ikev2d.wire.payloads import Payload
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload

from .context import Rng, SpiSource
from .errors import FailedCpRequired, InternalAddressFailure, TsUnacceptable
from .events import ChildSaSpec
from .lifetimes import hard_lifetime, rekey_delay
from .negotiate import (
    Chosen,
    additional_ke_policy,
    choose_child_proposal,
    rekey_key_exchanges,
)
from .sa import ChildSa, IkeSa
from .ts import Selectors, intersect, narrow_local, narrow_remote, passed_through

__all__ = ["FirstChild", "create_first_child", "make_child", "narrow_for"]

_NO_NONCES = (b"", b"")
Narrowed = tuple[TrafficSelector, ...]  # one side's selectors after narrowing


@dataclass(slots=True)
class FirstChild:
    payloads: list[Payload]
    child: ChildSa
    virtual_ip: ipaddress.IPv4Address
    virtual_ip6: ipaddress.IPv6Address | None = None


def _requested_address(cp: CpPayload | None) -> tuple[ipaddress.IPv4Address | None, bool]:
    """(the IPv4 address the client would like, if any; whether it asks for IPv6 too)."""
    if cp is None or cp.cfg_type != CfgType.REQUEST:
        raise FailedCpRequired("the client asked for no configuration (CP request)")
    asked = cp.requested()
    if CfgAttr.INTERNAL_IP4_ADDRESS not in asked:
        raise FailedCpRequired("the client asked for no IPv4 address")
    values = cp.values(CfgAttr.INTERNAL_IP4_ADDRESS)
    wanted = values[0] if values else None
    if not isinstance(wanted, ipaddress.IPv4Address) or int(wanted) == 0:
        wanted = None  # 0.0.0.0: any address
    return wanted, CfgAttr.INTERNAL_IP6_ADDRESS in asked


def client_selectors(
    config: ServerConfig, tsi: Selectors, tsr: Selectors, vip: ipaddress.IPv4Address,
    vip6: ipaddress.IPv6Address | None,
) -> tuple[Narrowed, Narrowed, ipaddress.IPv6Address | None]:  # fmt: skip
    """(our selectors, the client's selectors, its IPv6 address if it takes one). Each
    family on its own; with IPv6 refused the client's IPv6 selectors pass into the tunnel."""
    addresses = (vip,) if vip6 is None else (vip, vip6)
    remote = narrow_remote(tsi, addresses)
    vip6 = vip6 if len(remote) > 1 else None  # its TSi asked for no IPv6
    local = narrow_local(tsr, config.offered_subnets if vip6 is not None else config.subnets(4))
    if config.ipv6_refused:
        remote += passed_through(tsi, 6)
        local += intersect(tsr, config.subnets(6))
    return local, remote, vip6


def make_child(
    sa: IkeSa,
    chosen: Chosen,
    inbound_spi: int,
    outbound_spi: int,
    ts: tuple[tuple[TrafficSelector, ...], tuple[TrafficSelector, ...]],
    keys_in: DirectionKeys,
    keys_out: DirectionKeys,
    config: ServerConfig,
    rng: Rng,
    now: float,
    nonces: tuple[bytes, bytes],
    rekey_with: tuple[tuple[int, int], ...] = (),
) -> ChildSa:
    """A Child SA of `sa` from the negotiated suite, keys and (local, remote) selectors;
    `rekey_with`: the key exchanges our rekey of it offers when it was made without one."""
    c = chosen.configured
    integ, encr_xfrm = c.integ, c.encr.xfrm_name
    assert encr_xfrm is not None  # every ESP cipher has its XFRM name (policy.proposals)
    local_ts, remote_ts = ts
    rekey = rekey_delay(config.child_lifetime, rng)
    spec = ChildSaSpec(
        local=sa.local,
        remote=sa.remote,
        encap=(sa.local[1], sa.remote[1]) if sa.nat else None,
        inbound_spi=inbound_spi,
        outbound_spi=outbound_spi,
        encr_xfrm=encr_xfrm,
        encr_key_in=keys_in.encr_key,
        encr_key_out=keys_out.encr_key,
        icv_bits=c.encr.icv_bits if integ is None else integ.icv_bits,
        integ_xfrm=None if integ is None else integ.xfrm_name,
        integ_key_in=keys_in.integ_key,
        integ_key_out=keys_out.integ_key,
        esn=c.esn.id == EsnId.ESN,
        local_ts=_shared_cidrs(local_ts),
        remote_ts=_cidrs(remote_ts),
        refused_ts=_refused(config, local_ts, remote_ts),
        lifetime=hard_lifetime(config.child_lifetime),
        algorithms=_algorithms(chosen),
        soft_lifetime=rekey,
        lifetime_bytes=config.child_lifetime_bytes,
    )
    return ChildSa(spec, c, now, rekey_at=now + rekey, nonces=nonces,
                   key_exchanges=chosen.key_exchanges or rekey_with)  # fmt: skip


def _algorithms(chosen: Chosen) -> str:
    """The ESP suite for status: aes256-sha256, with PFS aes256-sha256+ke31+ke1_mlkem768."""
    text = chosen.configured.text
    if chosen.ke_group is None:
        return text
    from ikev2d.crypto.transforms import additional_ke_keyword

    extra = "".join(f"+{additional_ke_keyword(t, m)}" for t, m in chosen.additional)
    return f"{text}+ke{chosen.ke_group}{extra}"


def _refused(config: ServerConfig, *sides: tuple[TrafficSelector, ...]) -> tuple[str, ...]:
    """With IPv6 refused (full tunnel, no pool6) every IPv6 selector: in the tunnel, not in
    the kernel's policies, so the router drops what the client sends there."""
    if not config.ipv6_refused:
        return ()
    return tuple(c for side in sides for c in _cidrs(side) if ":" in c)


def _cidrs(selectors: tuple[TrafficSelector, ...]) -> tuple[str, ...]:
    return tuple(str(n) for t in selectors for n in t.networks())


# our side is the configured subnets for (nearly) every client: one tuple of texts for all
_shared_cidrs = functools.lru_cache(maxsize=16)(_cidrs)


def narrow_for(
    sa: IkeSa, tsi: TsiPayload, tsr: TsrPayload, config: ServerConfig
) -> tuple[Narrowed, Narrowed]:
    """(our selectors, the client's selectors) for a Child SA of an established IKE SA."""
    if sa.client.virtual_ip is None:
        raise TsUnacceptable("the client has no virtual address")
    vip6 = None if sa.client.virtual_ip6 is None else ipaddress.IPv6Address(sa.client.virtual_ip6)
    local, remote, _ = client_selectors(
        config, tsi.selectors, tsr.selectors, ipaddress.IPv4Address(sa.client.virtual_ip), vip6
    )
    return local, remote


def create_first_child(
    sa: IkeSa,
    inner: list[Payload],
    now: float,
    config: ServerConfig,
    pool: AddressPool,
    allocate_spi: SpiSource,
    rng: Rng,
) -> FirstChild | None:
    """The Child SA and reply payloads; None when the client asked for no Child SA."""
    sa_payload = next((p for p in inner if isinstance(p, SaPayload)), None)
    tsi = next((p for p in inner if isinstance(p, TsiPayload)), None)
    tsr = next((p for p in inner if isinstance(p, TsrPayload)), None)
    if sa_payload is None or tsi is None or tsr is None:
        return None
    cp = next((p for p in inner if isinstance(p, CpPayload)), None)
    requested, wants6 = _requested_address(cp)
    chosen = choose_child_proposal(config.esp_proposal, sa_payload)
    try:
        vip = pool.lease(sa.client.lease_key, requested)
    except PoolError as e:
        raise InternalAddressFailure(str(e)) from None
    try:
        local_ts, remote_ts, vip6 = client_selectors(
            config, tsi.selectors, tsr.selectors, vip,
            config.address6_for(vip) if wants6 else None,
        )  # fmt: skip
        inbound_spi = allocate_spi(sa.local[0], sa.remote[0])
    except BaseException:
        pool.release(vip)
        raise
    c = chosen.configured
    hs = sa.half_open
    keys = derive_child_keys(sa.prf, sa.keys.sk_d, c.encr, c.integ, hs.nonce_i, hs.nonce_r)
    rekey_with = rekey_key_exchanges(
        config.esp_proposal, sa_payload, additional_ke_policy(config.post_quantum)
    )
    # no nonces kept: only Child SAs made by a rekey exchange are compared in a collision
    child = make_child(
        sa, chosen, inbound_spi, chosen.offered.spi_int or 0, (local_ts, remote_ts),
        keys.i_to_r, keys.r_to_i, config, rng, now, _NO_NONCES, rekey_with,
    )  # fmt: skip
    attrs = [CfgAttribute.ip4_address(vip)]
    attrs += [CfgAttribute.ip4_dns(d) for d in config.dns if d.version == 4]
    if vip6 is not None:  # the /64 strongSwan announces too: the client's link, its tunnel
        attrs.append(CfgAttribute.ip6_address(ipaddress.IPv6Interface((vip6, 64))))
        attrs += [CfgAttribute.ip6_dns(d) for d in config.dns if d.version == 6]
    payloads: list[Payload] = [
        CpPayload(CfgType.REPLY, tuple(attrs)),
        SaPayload((chosen.reply_proposal(inbound_spi.to_bytes(4, "big")),)),
        TsiPayload(remote_ts),
        TsrPayload(local_ts),
    ]
    return FirstChild(payloads, child, vip, vip6)
