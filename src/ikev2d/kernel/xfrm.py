"""The kernel datapath: Child SAs and their policies over NETLINK_XFRM.

Public surface (called by the daemon only)::

    dp = XfrmDatapath()                       # opens two NETLINK_XFRM sockets
    spi = dp.allocate_spi(src=peer, dst=us)   # an inbound SPI of ours (kernel.spis), no kernel call
    dp.install_child(ChildTunnel(...))        # NEWSA in and out, UPDPOLICY out/in/fwd
    dp.all_counters() -> {spi: (bytes, pkts)} # curlft of every SA of ours (one GETSA dump)
    dp.remove_child(tunnel)                   # DELSA both, DELPOLICY when no tunnel uses it
    dp.flush_owned() -> int                   # leftovers of an earlier run, ours only
    dp.block_pool(["10.10.10.0/24"])          # clear packets from the pools: dropped
    dp.update_child(old, new) -> str          # MOBIKE: MIGRATE, else re-add (kernel.xfrm_move)
    dp.fileno(); dp.read_events()             # expire multicasts, never blocks (xfrm_events)
    dp.close()

Ownership: every SA and every policy template we install carries a reqid from
``OWNED_REQIDS`` (a 64 Ki block far above what strongSwan or libreswan allocate). A reqid is
part of both the SA and each policy template, survives a daemon crash in the kernel, needs no
LSM (unlike XFRMA_SEC_CTX) and, unlike XFRMA_MARK, does not change which packets match. So
``flush_owned`` and the expire listener can recognise our state with certainty and leave a
strongSwan in the same netns alone. The pool-wide block policies carry ``REQID_LARVAL`` (the
reqid of the larval SAs that ALLOCSPI made before ``kernel.spis``; a crash of such a version can
still have left some, and ``flush_owned`` removes them by it).

Policies are shared by Child SAs with the same traffic selectors (a rekeyed Child SA installs
the same out/in/fwd entries before the old one is removed), so they are reference counted:
``remove_child`` deletes an SPD entry only when no installed tunnel still needs it. Errors from
the kernel raise :class:`ikev2d.kernel.errors.XfrmError`; ``install_child`` undoes its own
partial work before raising.
"""

from __future__ import annotations

import ipaddress
import os
from collections import Counter as _Multiset
from collections.abc import Callable, Sequence

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.errors import XfrmError
from ikev2d.kernel.netlink import NetlinkSocket
from ikev2d.kernel.spis import InboundSpis
from ikev2d.kernel.tunnel import (
    OWNED_REQIDS,
    REQID_LARVAL,
    ChildTunnel,
    EspTransform,
    EventsLost,
    Lifetimes,
    PolicyExpired,
    SaExpired,
    SaKeys,
    UdpEncap,
)
from ikev2d.kernel.xfrm_codec import FieldReader
from ikev2d.kernel.xfrm_events import ExpireListener, KernelEvent
from ikev2d.kernel.xfrm_move import TunnelMover
from ikev2d.kernel.xfrm_requests import call, delete_quietly

__all__ = [
    "OWNED_REQIDS",
    "REQID_LARVAL",
    "ChildTunnel",
    "EspTransform",
    "EventsLost",
    "Lifetimes",
    "PolicyExpired",
    "SaExpired",
    "SaKeys",
    "UdpEncap",
    "XfrmDatapath",
]

# Replies read straight from the receive buffer (pyroute2's decode() is ~100 µs per SA, and a
# status of 1000 clients reads 2000 of them).
_SA_SUMMARY = FieldReader(
    m.xfrm_usersa_info,
    "id_daddr", "id_spi", "id_proto", "cur_bytes", "cur_packets", "reqid", "family",
)  # fmt: skip


def _owned_sa(mtype: int, buf: bytearray, offset: int) -> tuple | None:
    """(daddr, spi, proto, bytes, packets, reqid, family) of a dumped ESP SA of ours."""
    if mtype != m.XFRM_MSG.NEWSA:
        return None
    try:
        sa = _SA_SUMMARY.read(buf, offset)
    except ValueError:
        return None  # a truncated entry is nothing we could have installed
    return sa if sa[5] in OWNED_REQIDS and sa[2] == m.IPPROTO_ESP else None


def _tunnel_key(tunnel: ChildTunnel) -> tuple:
    return (tunnel.local, tunnel.inbound.spi)


class XfrmDatapath:
    """Installs and removes tunnel-mode ESP Child SAs in the current network namespace."""

    def __init__(self, *, listen: bool = True, rng: Callable[[int], bytes] = os.urandom) -> None:
        self._nl = NetlinkSocket()
        try:
            self._events = ExpireListener() if listen else None
        except BaseException:
            self._nl.close()
            raise
        self._mover = TunnelMover(self._nl)
        self._policy_refs: _Multiset[tuple] = _Multiset()
        self._installed: dict[tuple, int] = {}  # tunnel key -> reqid
        self._reqids: _Multiset[int] = _Multiset()  # reqid -> installed tunnels with it
        self._next_reqid = REQID_LARVAL + 1
        self._deferred: set[tuple] = set()  # tunnels whose outbound SA is not added yet
        self._pool_block: list[b.PolicySpec] = []  # the block policies of the pools
        self._spis = InboundSpis(rng)

    # -- requests ---------------------------------------------------------------------------

    def allocate_reqid(self) -> int:
        """A reqid from our range not used by an installed tunnel of this process."""
        for _ in range(len(OWNED_REQIDS)):
            reqid = self._next_reqid
            self._next_reqid = reqid + 1 if reqid + 1 < OWNED_REQIDS.stop else REQID_LARVAL + 1
            if not self._reqids[reqid]:
                return reqid
        raise RuntimeError("every ikev2d reqid is in use")

    def allocate_spi(self, src: object, dst: object) -> int:
        """An inbound SPI for ESP src (peer) → dst (us): chosen here (kernel.spis), the kernel
        sees it only when install_child adds the SA."""
        return self._spis.new()

    def install_child(self, tunnel: ChildTunnel, *, outbound: bool = True) -> None:
        """Add both SAs and the out/in/fwd policies; on failure, undo and raise XfrmError.

        ``outbound=False`` adds the inbound SA and the policies only (the responder of a
        Child SA rekey sends on the new SA only once the peer surely has it:
        :meth:`install_outbound` then). A rekeyed tunnel that keeps its predecessor's reqid
        needs no policy change: the kernel sends on the newest SA matching the template."""
        done_sas: list[tuple] = []
        done_policies: list[b.PolicySpec] = []
        # the inbound SA, the outbound SA and the policies go to the kernel in one round trip
        batch: list[tuple[bytes, int, str]] = []
        steps: list[tuple[str, object]] = []

        def add(build, operation: str, kind: str, what: object, *args) -> None:
            seq = self._nl.next_seq()
            batch.append((build(*args, seq), seq, operation))
            steps.append((kind, what))

        inbound = (tunnel.local, tunnel.inbound.spi)
        # NEWSA, not UPDSA: an SPI another program holds is refused (EEXIST), not taken over
        add(b.build_sa, "NEWSA", "sa", inbound, tunnel, True, m.XFRM_MSG.NEWSA)
        if not outbound:
            self._deferred.add(_tunnel_key(tunnel))
        else:
            outbound_sa = (tunnel.remote, tunnel.outbound.spi)
            add(b.build_sa, "NEWSA", "sa", outbound_sa, tunnel, False, m.XFRM_MSG.NEWSA)
        for spec in b.policy_specs(tunnel):
            add(b.build_policy, "UPDPOLICY", "policy", spec, spec, tunnel.reqid,
                m.XFRM_MSG.UPDPOLICY)  # fmt: skip
        try:
            errors = self._nl.request_batch(batch)
            for (kind, what), error in zip(steps, errors, strict=True):
                if error is not None:
                    continue
                if kind == "sa":
                    done_sas.append(what)
                else:
                    done_policies.append(what)
                    self._policy_refs[what.key] += 1
            failed = next((e for e in errors if e is not None), None)
            if failed is not None:
                raise failed
        except BaseException:
            self._undo(done_sas, done_policies)
            self._spis.released(tunnel.inbound.spi)
            raise
        self._installed[_tunnel_key(tunnel)] = tunnel.reqid
        self._reqids[tunnel.reqid] += 1
        self._spis.installed(tunnel.inbound.spi)

    def block_pool(self, pools: Sequence[str]) -> None:
        """Only traffic that came out of a client's ESP SA may come from the address pools
        (pool, pool6), and only a client's ESP SA may take traffic to them: in/fwd/out block
        policies for each whole pool sit below every client's policy (replacing those of
        earlier pools; [] removes them). A clear packet from an unleased pool address, or
        spoofing a leased one, is dropped before routing or delivery; one to an unleased
        pool address is dropped instead of leaving in clear."""
        for spec in self._pool_block:
            self._delete_policy(spec)
        self._pool_block = []
        if not pools:
            return
        specs = [s for pool in pools for s in b.pool_block_specs(ipaddress.ip_network(pool))]
        batch = []
        for spec in specs:
            seq = self._nl.next_seq()
            batch.append((b.build_block_policy(spec, REQID_LARVAL, seq), seq, "UPDPOLICY"))
        failed = next((e for e in self._nl.request_batch(batch) if e is not None), None)
        self._pool_block = specs
        if failed is not None:
            raise failed

    def install_outbound(self, tunnel: ChildTunnel) -> None:
        """Add the outbound SA of a tunnel installed with ``outbound=False``."""
        call(self._nl, b.build_sa, "NEWSA", tunnel, False, m.XFRM_MSG.NEWSA)
        self._deferred.discard(_tunnel_key(tunnel))

    def update_child(self, old: ChildTunnel, new: ChildTunnel) -> str:
        """Move a tunnel to new outer addresses/encapsulation (kernel.xfrm_move): same SPIs,
        keys, reqid and sequence numbers. Returns the method used."""
        if (old.inbound.spi, old.outbound.spi, old.reqid) != (
            new.inbound.spi, new.outbound.spi, new.reqid,
        ):  # fmt: skip
            raise ValueError("update_child keeps SPIs and reqid; rekey for new ones")
        deferred = _tunnel_key(old) in self._deferred
        how = self._mover.move(old, new, outbound_added=not deferred)
        reqid = self._installed.pop(_tunnel_key(old), None)
        if reqid is not None:
            self._installed[_tunnel_key(new)] = reqid
        if deferred:  # still waiting for install_outbound, now under its new address
            self._deferred.discard(_tunnel_key(old))
            self._deferred.add(_tunnel_key(new))
        return how

    def _undo(self, sas: list[tuple], policies: list[b.PolicySpec]) -> None:
        for spec in policies:
            self._release_policy(spec)
        for dst, spi in sas:
            delete_quietly(self._nl, b.build_delsa, "DELSA", dst, spi)

    def _release_policy(self, spec: b.PolicySpec) -> None:
        if self._unused(spec):
            self._delete_policy(spec)

    def _unused(self, spec: b.PolicySpec) -> bool:
        """One user less for the policy; True when it has none left (delete it then)."""
        self._policy_refs[spec.key] -= 1
        if self._policy_refs[spec.key] > 0:
            return False
        del self._policy_refs[spec.key]
        return True

    def _delete_policy(self, spec: b.PolicySpec) -> None:
        """DELPOLICY by selector; one already gone is fine."""
        seq = self._nl.next_seq()
        try:
            self._nl.request(b.build_delpolicy(spec.direction, seq, spec=spec), seq, "DELPOLICY")
        except XfrmError as exc:
            if not exc.not_found:
                raise

    def remove_child(self, tunnel: ChildTunnel) -> None:
        """Delete both SAs, and each policy no other installed tunnel still uses, in one
        round trip; what is gone already is no error."""
        reqid = self._installed.pop(_tunnel_key(tunnel), None)
        known = reqid is not None
        if known:
            self._reqids[reqid] -= 1
            if not self._reqids[reqid]:
                del self._reqids[reqid]
        self._deferred.discard(_tunnel_key(tunnel))
        self._spis.released(tunnel.inbound.spi)
        batch: list[tuple[bytes, int, str]] = []
        for dst, spi in ((tunnel.local, tunnel.inbound.spi), (tunnel.remote, tunnel.outbound.spi)):
            seq = self._nl.next_seq()
            batch.append((b.build_delsa(dst, spi, seq), seq, "DELSA"))
        for spec in b.policy_specs(tunnel):
            # A tunnel we did not install was installed by an earlier run of ikev2d (or is
            # gone): its policies are ours to delete, unless a live tunnel still uses them.
            if known or self._policy_refs[spec.key] == 0:
                if not known:
                    self._policy_refs[spec.key] = 1
                if self._unused(spec):
                    seq = self._nl.next_seq()
                    batch.append((b.build_delpolicy(spec.direction, seq, spec=spec), seq,
                                  "DELPOLICY"))  # fmt: skip
        failed = [e for e in self._nl.request_batch(batch) if e is not None and not e.not_found]
        if failed:
            raise failed[0]

    def all_counters(self) -> dict[int, tuple[int, int]]:
        """(bytes, packets) of every SA of ours by SPI, from ONE dump: a status of many
        clients costs one netlink exchange, not two per client."""
        found: dict[int, tuple[int, int]] = {}
        for mtype, buf, offset in call(self._nl, b.build_dump, "GETSA", m.XFRM_MSG.GETSA):
            sa = _owned_sa(mtype, buf, offset)
            if sa is not None:
                found[sa[1]] = (sa[3], sa[4])
        return found

    def flush_owned(self) -> int:
        """Delete every SA and policy carrying one of our reqids; return how many."""
        removed = 0
        for mtype, buf, offset in call(self._nl, b.build_dump, "GETPOLICY", m.XFRM_MSG.GETPOLICY):
            if mtype != m.XFRM_MSG.NEWPOLICY:
                continue
            pol = m.decode_message(m.xfrm_userpolicy_info, buf, offset)
            if b.owned_policy(pol):
                seq = self._nl.next_seq()
                msg = b.build_delpolicy(pol["dir"], seq, index=pol["index"])
                try:
                    self._nl.request(msg, seq, "DELPOLICY")
                    removed += 1
                except XfrmError as exc:
                    if not exc.not_found:
                        raise
        for mtype, buf, offset in call(self._nl, b.build_dump, "GETSA", m.XFRM_MSG.GETSA):
            sa = _owned_sa(mtype, buf, offset)
            if sa is not None:
                dst = b.address_from(sa[0], sa[6])
                removed += delete_quietly(self._nl, b.build_delsa, "DELSA", dst, sa[1])
        self._policy_refs.clear()
        self._installed.clear()
        self._reqids.clear()
        self._spis.clear()
        self._pool_block = []
        return removed

    # -- events -----------------------------------------------------------------------------

    def fileno(self) -> int:
        """The expire listener's fd, for the daemon's poll loop."""
        if self._events is None:
            raise ValueError("datapath opened with listen=False")
        return self._events.fileno()

    def read_events(self) -> list[KernelEvent]:
        """Expire events for our SAs/policies already queued; returns [] rather than block."""
        return [] if self._events is None else self._events.read()

    def close(self) -> None:
        self._nl.close()
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> XfrmDatapath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
