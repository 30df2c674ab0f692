"""Pure builders and parsers between :mod:`tunnel` value objects and XFRM messages.

No socket here: everything is bytes in, bytes out, so the unit tests check the exact requests
the datapath sends and parse captured replies and expire events.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.tunnel import (
    OWNED_REQIDS,
    XFRM_INF,
    ChildTunnel,
    IPAddress,
    IPNetwork,
    Lifetimes,
    PolicyExpired,
    SaExpired,
)
from ikev2d.wire.frozen import Frozen

__all__ = [
    "Move",
    "PolicySpec",
    "SaRuntime",
    "address_from",
    "build_block_policy",
    "build_delpolicy",
    "build_delsa",
    "build_dump",
    "build_getsa",
    "build_migrate",
    "build_policy",
    "build_sa",
    "owned_policy",
    "parse_event",
    "policy_priority",
    "policy_specs",
    "pool_block_specs",
    "sa_runtime",
    "xaddr",
]

_REQ = 0x1  # NLM_F_REQUEST
_ACK = 0x4
_DUMP = 0x300
_ALL_ALGOS = 0xFFFF_FFFF  # template accepts any algorithm the SA uses (as ip-xfrm/strongSwan)
_XFRM_STATE_AF_UNSPEC = 32
_PRIO_BASE = 0x10000  # lower value wins in the kernel; below strongSwan's routed base
# Below every per-client policy (those count the prefix lengths off _PRIO_BASE): a pool-wide
# block policy only catches what no client's policy matches.
_BLOCK_PRIORITY = (_PRIO_BASE << 2) + 3
_ANYWHERE = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}
_NO_ADDRESS = {4: ipaddress.ip_address("0.0.0.0"), 6: ipaddress.ip_address("::")}  # noqa: S104


def xaddr(addr: IPAddress) -> bytes:
    """xfrm_address_t: the packed address, zero-padded to 16 bytes."""
    return addr.packed.ljust(16, b"\0")


def _af(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def address_from(raw: bytes, family: int) -> IPAddress:
    return ipaddress.ip_address(raw[:4] if family == socket.AF_INET else raw[:16])


def _lifetime_cfg(lt: Lifetimes | None) -> dict[str, int]:
    """xfrm_lifetime_cfg: byte/packet limits use XFRM_INF for none, seconds use 0."""
    lt = lt or Lifetimes()
    return {
        "soft_byte_limit": XFRM_INF if lt.soft_bytes is None else lt.soft_bytes,
        "hard_byte_limit": XFRM_INF if lt.hard_bytes is None else lt.hard_bytes,
        "soft_packet_limit": XFRM_INF,
        "hard_packet_limit": XFRM_INF,
        "soft_add_expires_seconds": lt.soft_seconds or 0,
        "hard_add_expires_seconds": lt.hard_seconds or 0,
    }


def _algo_attrs(tunnel: ChildTunnel, inbound: bool) -> list[tuple[str, dict]]:
    t = tunnel.transform
    keys = tunnel.inbound if inbound else tunnel.outbound
    if t.aead:
        return [
            (
                "XFRMA_ALG_AEAD",
                {"alg_name": t.encr.encode(), "alg_key": keys.encr_key, "alg_icv_len": t.icv_bits},
            )
        ]
    assert t.integ is not None  # EspTransform guarantees one of the two
    return [
        ("XFRMA_ALG_CRYPT", {"alg_name": t.encr.encode(), "alg_key": keys.encr_key}),
        (
            "XFRMA_ALG_AUTH_TRUNC",
            {
                "alg_name": t.integ.encode(),
                "alg_key": keys.integ_key,
                "alg_trunc_len": t.integ_trunc_bits,
            },
        ),
    ]


def build_sa(
    tunnel: ChildTunnel, inbound: bool, msg_type: int, seq: int, carried: SaRuntime | None = None
) -> bytes:
    """NEWSA/UPDSA for one direction of a tunnel-mode ESP SA.

    ``carried`` (from :func:`sa_runtime` of the SA being replaced) re-creates an SA with the
    sequence numbers and lifetime counters of an earlier incarnation: a peer's replay window
    would drop packets whose sequence numbers started again at 1."""
    src, dst = (tunnel.remote, tunnel.local) if inbound else (tunnel.local, tunnel.remote)
    keys = tunnel.inbound if inbound else tunnel.outbound
    t = tunnel.transform
    inner = {n.version for n in (*tunnel.local_ts, *tunnel.remote_ts)}
    flags = 0 if len(inner) == 1 else _XFRM_STATE_AF_UNSPEC
    # A big window or ESN needs the replay_state_esn attribute, and then the legacy u8
    # replay_window must be 0 (the kernel's verify_replay() insists).
    use_esn_attr = t.esn or t.replay_window > 32
    fields = {
        "sel_family": _af(inner.pop()) if len(inner) == 1 else 0,
        "id_daddr": xaddr(dst),
        "id_spi": keys.spi,
        "id_proto": m.IPPROTO_ESP,
        "saddr": xaddr(src),
        **_lifetime_cfg(tunnel.lifetimes),
        "reqid": tunnel.reqid,
        "family": _af(dst.version),
        "mode": m.XFRM_MODE_TUNNEL,
        "replay_window": 0 if use_esn_attr else t.replay_window,
        "flags": flags | (m.XFRM_STATE_ESN if t.esn else 0),
    }
    attrs = _algo_attrs(tunnel, inbound)
    if use_esn_attr:
        esn = m.encode_esn(t.replay_window)
        if carried is not None and carried.esn is not None:
            esn.update(carried.esn)
        attrs.append(("XFRMA_REPLAY_ESN_VAL", esn))
    elif carried is not None and carried.replay is not None:
        attrs.append(("XFRMA_REPLAY_VAL", dict(carried.replay)))
    if carried is not None and carried.lifetime is not None:
        attrs.append(("XFRMA_LTIME_VAL", dict(carried.lifetime)))
    if tunnel.encap is not None:
        e = tunnel.encap
        sport, dport = (e.remote_port, e.local_port) if inbound else (e.local_port, e.remote_port)
        attrs.append(
            (
                "XFRMA_ENCAP",
                {
                    "encap_type": m.UDP_ENCAP_ESPINUDP,
                    "encap_sport": sport,
                    "encap_dport": dport,
                    "encap_oa": b"",
                },
            )
        )
    return m.new_message(m.xfrm_usersa_info, msg_type, _REQ | _ACK, seq, fields, attrs)


class SaRuntime(Frozen):
    """What an SA has accumulated since it was added: replay state and lifetime counters."""

    __slots__ = ("esn", "lifetime", "replay")
    replay: dict | None  # oseq, seq, bitmap (XFRMA_REPLAY_VAL)
    esn: dict | None  # oseq, seq, oseq_hi, seq_hi (XFRMA_REPLAY_ESN_VAL; bitmap not kept)
    lifetime: dict | None  # cur_bytes, cur_packets, cur_add_time, cur_use_time

    def __init__(self, replay: dict | None, esn: dict | None, lifetime: dict | None) -> None:
        self._set(replay=replay, esn=esn, lifetime=lifetime)


def sa_runtime(msg: m.xfrm_usersa_info) -> SaRuntime:
    """The runtime state of an SA from a GETSA reply."""
    replay = msg.get_attr("XFRMA_REPLAY_VAL")
    esn = msg.get_attr("XFRMA_REPLAY_ESN_VAL")
    return SaRuntime(
        replay={k: replay[k] for k in ("oseq", "seq", "bitmap")} if replay else None,
        esn={k: esn[k] for k in ("oseq", "seq", "oseq_hi", "seq_hi")} if esn else None,
        lifetime={name: msg[name] for name, _ in m.LIFETIME_CUR_FIELDS},
    )


_MIGRATE = struct.Struct("=16s16s16s16sBBxxIHH")  # struct xfrm_user_migrate (76 bytes)


class Move(Frozen):
    """One SA (both ends, reqid) moving from old to new outer addresses."""

    __slots__ = ("new_dst", "new_src", "old_dst", "old_src", "reqid")
    old_src: IPAddress
    old_dst: IPAddress
    new_src: IPAddress
    new_dst: IPAddress
    reqid: int

    def __init__(
        self, old_src: IPAddress, old_dst: IPAddress, new_src: IPAddress, new_dst: IPAddress,
        reqid: int,
    ) -> None:  # fmt: skip
        self._set(old_src=old_src, old_dst=old_dst, new_src=new_src, new_dst=new_dst,
                  reqid=reqid)  # fmt: skip

    def pack(self) -> bytes:
        return _MIGRATE.pack(
            xaddr(self.old_dst), xaddr(self.old_src), xaddr(self.new_dst), xaddr(self.new_src),
            m.IPPROTO_ESP, m.XFRM_MODE_TUNNEL, self.reqid,
            _af(self.old_dst.version), _af(self.new_dst.version),
        )  # fmt: skip


def build_migrate(
    spec: PolicySpec, moves: list[Move], encap: tuple[int, int] | None, seq: int
) -> bytes:
    """XFRM_MSG_MIGRATE: move the SAs of `moves` and the templates of the policy `spec`
    (CONFIG_XFRM_MIGRATE); ``encap`` (source, destination port) for ESP-in-UDP."""
    fields = {**_selector(spec.src, spec.dst), "dir": spec.direction}
    attrs: list[tuple[str, dict]] = [
        ("XFRMA_MIGRATE", {"raw": b"".join(mv.pack() for mv in moves)})
    ]
    if encap is not None:
        attrs.append(
            (
                "XFRMA_ENCAP",
                {
                    "encap_type": m.UDP_ENCAP_ESPINUDP,
                    "encap_sport": encap[0],
                    "encap_dport": encap[1],
                    "encap_oa": b"",
                },
            )
        )
    return m.new_message(m.xfrm_userpolicy_id, m.XFRM_MSG.MIGRATE, _REQ | _ACK, seq, fields, attrs)


def _sa_id(dst: IPAddress, spi: int) -> dict[str, object]:
    return {"daddr": xaddr(dst), "spi": spi, "family": _af(dst.version), "proto": m.IPPROTO_ESP}


def build_getsa(dst: IPAddress, spi: int, seq: int) -> bytes:
    return m.new_message(m.xfrm_usersa_id, m.XFRM_MSG.GETSA, _REQ, seq, _sa_id(dst, spi))


def build_delsa(dst: IPAddress, spi: int, seq: int) -> bytes:
    return m.new_message(m.xfrm_usersa_id, m.XFRM_MSG.DELSA, _REQ | _ACK, seq, _sa_id(dst, spi))


def build_dump(msg_type: int, seq: int) -> bytes:
    """GETSA / GETPOLICY dump of the whole SAD / SPD."""
    cls = m.xfrm_usersa_id if msg_type == m.XFRM_MSG.GETSA else m.xfrm_userpolicy_id
    return m.new_message(cls, msg_type, _REQ | _DUMP, seq, {})


class PolicySpec(Frozen):
    """One SPD entry of a tunnel: direction, selector src→dst, and its template's ends."""

    __slots__ = ("direction", "dst", "src", "tmpl_dst", "tmpl_src")
    direction: int
    src: IPNetwork
    dst: IPNetwork
    tmpl_src: IPAddress
    tmpl_dst: IPAddress

    def __init__(
        self, direction: int, src: IPNetwork, dst: IPNetwork, tmpl_src: IPAddress,
        tmpl_dst: IPAddress,
    ) -> None:  # fmt: skip
        self._set(direction=direction, src=src, dst=dst, tmpl_src=tmpl_src, tmpl_dst=tmpl_dst)

    @property
    def key(self) -> tuple[int, IPNetwork, IPNetwork]:
        return (self.direction, self.src, self.dst)


def policy_specs(tunnel: ChildTunnel) -> list[PolicySpec]:
    """out (local_ts → remote_ts) plus in and fwd (remote_ts → local_ts) per TS pair."""
    specs = []
    for lnet in tunnel.local_ts:
        for rnet in tunnel.remote_ts:
            if lnet.version != rnet.version:
                continue  # an IPv4 subnet never pairs with an IPv6 virtual IP
            specs.append(PolicySpec(m.XFRM_POLICY_OUT, lnet, rnet, tunnel.local, tunnel.remote))
            for direction in (m.XFRM_POLICY_IN, m.XFRM_POLICY_FWD):
                specs.append(PolicySpec(direction, rnet, lnet, tunnel.remote, tunnel.local))
    return specs


def policy_priority(src: IPNetwork, dst: IPNetwork) -> int:
    """Longer prefixes win (smaller value), as strongSwan's kernel-netlink computes it.

    Two low bits are kept for port and protocol restrictions, which we never set.
    """
    return ((_PRIO_BASE - src.prefixlen - dst.prefixlen) << 2) + 2 + 1


def _selector(src: IPNetwork, dst: IPNetwork) -> dict[str, object]:
    return {
        "sel_daddr": xaddr(dst.network_address),
        "sel_saddr": xaddr(src.network_address),
        "sel_family": _af(src.version),
        "sel_prefixlen_d": dst.prefixlen,
        "sel_prefixlen_s": src.prefixlen,
    }


def pool_block_specs(pool: IPNetwork) -> list[PolicySpec]:
    """in and fwd from the whole pool to anywhere: packets with a pool source that did not
    come out of a client's ESP SA (no client policy matched them) are dropped. out from
    anywhere to the whole pool: a packet for a pool address that no client's policy takes
    (an address no client holds, or a source outside the client's selectors) is dropped, not
    routed on in clear by the pool's route (kernel.routes)."""
    nowhere = _NO_ADDRESS[pool.version]  # the template of a block policy is never used
    anywhere = _ANYWHERE[pool.version]
    return [
        PolicySpec(m.XFRM_POLICY_IN, pool, anywhere, nowhere, nowhere),
        PolicySpec(m.XFRM_POLICY_FWD, pool, anywhere, nowhere, nowhere),
        PolicySpec(m.XFRM_POLICY_OUT, anywhere, pool, nowhere, nowhere),
    ]


def build_block_policy(spec: PolicySpec, reqid: int, seq: int) -> bytes:
    """UPDPOLICY: block, at the lowest priority of ours. Its template is never used (a block
    policy drops before templates are looked at); it carries our reqid, so the policy is
    recognised as ours (flush_owned) like every other."""
    return _policy(spec, reqid, m.XFRM_MSG.UPDPOLICY, seq, m.XFRM_POLICY_BLOCK, _BLOCK_PRIORITY)


def build_policy(spec: PolicySpec, reqid: int, msg_type: int, seq: int) -> bytes:
    """NEWPOLICY/UPDPOLICY: allow + one ESP tunnel template with our reqid."""
    priority = policy_priority(spec.src, spec.dst)
    return _policy(spec, reqid, msg_type, seq, m.XFRM_POLICY_ALLOW, priority)


def _policy(
    spec: PolicySpec, reqid: int, msg_type: int, seq: int, action: int, priority: int
) -> bytes:
    fields = {
        **_selector(spec.src, spec.dst),
        **_lifetime_cfg(None),
        "priority": priority,
        "dir": spec.direction,
        "action": action,
    }
    tmpl = m.user_tmpl(
        id_daddr=xaddr(spec.tmpl_dst),
        id_proto=m.IPPROTO_ESP,
        family=_af(spec.tmpl_dst.version),
        saddr=xaddr(spec.tmpl_src),
        reqid=reqid,
        mode=m.XFRM_MODE_TUNNEL,
        aalgos=_ALL_ALGOS,
        ealgos=_ALL_ALGOS,
        calgos=_ALL_ALGOS,
    )
    attrs = [("XFRMA_TMPL", {"raw": tmpl})]
    return m.new_message(m.xfrm_userpolicy_info, msg_type, _REQ | _ACK, seq, fields, attrs)


def build_delpolicy(
    direction: int, seq: int, spec: PolicySpec | None = None, index: int = 0
) -> bytes:
    """DELPOLICY by selector (our own entries) or by kernel index (entries found in a dump)."""
    fields: dict[str, object] = {"dir": direction, "index": index}
    if spec is not None:
        fields.update(_selector(spec.src, spec.dst))
    return m.new_message(m.xfrm_userpolicy_id, m.XFRM_MSG.DELPOLICY, _REQ | _ACK, seq, fields)


def owned_policy(msg: m.xfrm_userpolicy_info) -> bool:
    """A dumped policy is ours when one of its templates carries a reqid of our range."""
    tmpls = msg.get_attr("XFRMA_TMPL")
    return bool(tmpls) and any(t["reqid"] in OWNED_REQIDS for t in tmpls["templates"])


def parse_event(mtype: int, buf: bytearray, offset: int) -> SaExpired | PolicyExpired | None:
    """An expire multicast as an event object, or None when it is not about our state."""
    if mtype == m.XFRM_MSG.EXPIRE:
        msg = m.decode_message(m.xfrm_user_expire, buf, offset)
        if msg["reqid"] not in OWNED_REQIDS:
            return None
        return SaExpired(
            spi=msg["id_spi"],
            dst=address_from(msg["id_daddr"], msg["family"]),
            reqid=msg["reqid"],
            hard=bool(msg["hard"]),
            bytes=msg["cur_bytes"],
            packets=msg["cur_packets"],
        )
    if mtype == m.XFRM_MSG.POLEXPIRE:
        msg = m.decode_message(m.xfrm_user_polexpire, buf, offset)
        if not owned_policy(msg):
            return None
        return PolicyExpired(direction=msg["dir"], index=msg["index"], hard=bool(msg["hard"]))
    return None
