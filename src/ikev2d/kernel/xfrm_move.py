"""A tunnel moved to new outer addresses or encapsulation (MOBIKE, NAT re-mapping): same
SPIs, keys and reqid, and the same sequence numbers (a peer's replay window would drop packets
whose numbers started again at 1).

First XFRM_MSG_MIGRATE (CONFIG_XFRM_MIGRATE: the kernel moves SAs and templates atomically);
when the kernel lacks it, or it cannot express the change (dropping UDP encapsulation), the
SAs are deleted and re-added with their replay state and lifetime counters copied, and the
templates rewritten (strongSwan's way).
"""

from __future__ import annotations

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.errors import XfrmError
from ikev2d.kernel.netlink import NetlinkSocket
from ikev2d.kernel.tunnel import ChildTunnel
from ikev2d.kernel.xfrm_requests import call, delete_quietly, sa_info

__all__ = ["TunnelMover"]

# what a kernel without (usable) XFRM_MSG_MIGRATE answers: EINVAL ENOPROTOOPT EOPNOTSUPP ENOSYS
_NO_MIGRATE = (22, 92, 95, 38)


class TunnelMover:
    """Moves installed tunnels; remembers when the kernel cannot MIGRATE."""

    def __init__(self, nl: NetlinkSocket) -> None:
        self._nl = nl
        self.migrate_works = True  # until the kernel says it has no XFRM_MSG_MIGRATE

    def move(self, old: ChildTunnel, new: ChildTunnel, *, outbound_added: bool) -> str:
        """Move `old` to `new` (same SPIs and reqid); "migrate" or "re-add", how it went.
        ``outbound_added``: False while the outbound SA waits for install_outbound."""
        if self.migrate_works and not (old.encap is not None and new.encap is None):
            try:
                self._migrate(old, new)
            except XfrmError as exc:
                if exc.errno in _NO_MIGRATE:
                    self.migrate_works = False
            else:
                return "migrate"
        self._readd(old, new, outbound_added)
        return "re-add"

    def _migrate(self, old: ChildTunnel, new: ChildTunnel) -> None:
        out = b.Move(old.local, old.remote, new.local, new.remote, old.reqid)
        inb = b.Move(old.remote, old.local, new.remote, new.local, old.reqid)
        enc = new.encap
        for spec in b.policy_specs(old):
            if spec.direction == m.XFRM_POLICY_OUT:
                moves, encap = [out], (enc.local_port, enc.remote_port) if enc else None
            else:
                moves, encap = [inb], (enc.remote_port, enc.local_port) if enc else None
            call(self._nl, b.build_migrate, "MIGRATE", spec, moves, encap)

    def _readd(self, old: ChildTunnel, new: ChildTunnel, outbound_added: bool) -> None:
        for inbound in (True, False):
            spi = new.inbound.spi if inbound else new.outbound.spi
            where = (old.local, new.local) if inbound else (old.remote, new.remote)
            carried = None
            for dst in dict.fromkeys(where):  # the old address, else (half moved) the new
                try:
                    carried = b.sa_runtime(sa_info(self._nl, dst, spi))
                except XfrmError as exc:
                    if not exc.not_found:
                        raise
                    continue
                delete_quietly(self._nl, b.build_delsa, "DELSA", dst, spi)
                break
            if carried is None and not inbound and not outbound_added:
                continue  # an outbound SA not added yet (install_outbound comes later)
            seq = self._nl.next_seq()
            msg = b.build_sa(new, inbound, m.XFRM_MSG.NEWSA, seq, carried)
            self._nl.request(msg, seq, "NEWSA")
        for spec in b.policy_specs(new):
            call(self._nl, b.build_policy, "UPDPOLICY", spec, new.reqid, m.XFRM_MSG.UPDPOLICY)
