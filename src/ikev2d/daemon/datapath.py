"""The datapath contract: everything the daemon asks of the kernel, and where to get one.

Two implementations: ``ikev2d.kernel.datapath.KernelDatapath`` (XFRM and routes over
netlink, from ``open_kernel_datapath()``) and ``ikev2d.daemon.memory_datapath.MemoryDatapath``
(dictionaries: the unit tests and the in-process benchmarks). testbed/datapath_contract.py
holds both to the same checks.

The daemon never imports the kernel room at module level: ``open_kernel_datapath()`` does, so
unit tests (and ``ikev2d --check``) run without pyroute2 or NETLINK_XFRM.

Errors: a request the kernel refuses raises ``OSError`` (the kernel room's ``XfrmError`` and
``RouteError`` are OSErrors naming the step); removing what is already gone is no error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import socket

    from ikev2d.kernel.tunnel import ChildTunnel, EventsLost, PolicyExpired, SaExpired

    KernelEvent = SaExpired | PolicyExpired | EventsLost

__all__ = ["Datapath", "open_kernel_datapath"]


class Datapath(Protocol):
    """What the daemon needs from the kernel (see ikev2d.kernel.xfrm for the XFRM side)."""

    # -- SPIs and reqids ----------------------------------------------------------------------
    def allocate_spi(self, src: str, dst: str) -> int:
        """A fresh inbound SPI (kernel.spis.SPI_RANGE) for ESP from ``src`` (the client) to
        ``dst`` (us), used by no SA of ours; the kernel sees it with install_child."""
        ...

    def allocate_reqid(self) -> int:
        """A reqid of ours (kernel.tunnel.OWNED_REQIDS) no installed tunnel uses."""
        ...

    # -- Child SAs ----------------------------------------------------------------------------
    def install_child(self, tunnel: ChildTunnel, *, outbound: bool = True) -> None:
        """Both SAs of `tunnel` and its policies; ``outbound=False`` holds the outbound SA
        back (the new SA of a rekey, until install_outbound). On failure nothing of it stays."""
        ...

    def install_outbound(self, tunnel: ChildTunnel) -> None:
        """The outbound SA of a tunnel installed with ``outbound=False``."""
        ...

    def update_child(self, old: ChildTunnel, new: ChildTunnel) -> str:
        """Move a tunnel to new outer addresses or encapsulation (MOBIKE, NAT re-mapping),
        keeping SPIs, keys, reqid and sequence numbers; returns how ("migrate", "re-add").
        A change of SPI or reqid raises ValueError."""
        ...

    def remove_child(self, tunnel: ChildTunnel) -> None:
        """Both SAs, and each policy no other installed tunnel uses."""
        ...

    def all_counters(self) -> dict[int, tuple[int, int]]:
        """(bytes, packets) of every SA of ours by SPI, in one request."""
        ...

    # -- routes and addresses -----------------------------------------------------------------
    def add_client_route(
        self, virtual_ip: str, peer: str, local_ts: Sequence[str], device: int | None = None
    ) -> None:
        """Route a client's virtual IP the way its outer address ``peer`` goes, from our
        address inside ``local_ts`` (kernel.routes: by its pool's route, or a /32 of its
        own); replaces an earlier one. ``device``: the interface the client's IKE message
        came in on, if known (its ESP comes in there too); where the pool's route leads
        there, no route lookup is needed."""
        ...

    def remove_client_route(self, virtual_ip: str) -> None: ...

    def addresses_beside(self, address: str) -> list[str]:
        """Our other addresses on the interface holding ``address`` (MOBIKE's additional
        addresses; kernel.addresses)."""
        ...

    def block_pool(self, pools: Sequence[str]) -> None:
        """Drop clear packets from and to the ``pools`` (pool, pool6): only a client's ESP SA
        may bring them in or take them out; the clients of a pool share one route.
        Replaces the blocks of earlier pools; [] removes them."""
        ...

    # -- start, events, stop ------------------------------------------------------------------
    def flush_owned(self) -> int:
        """Remove every SA, policy, route and block of ours (an earlier run's too); how many."""
        ...

    def prepare_ike_socket(self, sock: socket.socket, natt: bool) -> None:
        """Make an IKE socket bypass IPsec policies; on the NAT-T port, decapsulate ESP."""
        ...

    def fileno(self) -> int | None:
        """An fd that becomes readable when ``read_events`` has something, or None."""
        ...

    def read_events(self) -> list[KernelEvent]:
        """Expire events already queued (an SA's soft or hard lifetime); never blocks."""
        ...

    def close(self) -> None: ...


def open_kernel_datapath(rng: Callable[[int], bytes] | None = None) -> Datapath:
    """The real datapath: XFRM over netlink in the current network namespace; ``rng`` draws
    its SPIs (the daemon's RandomPool; os.urandom by default)."""
    from ikev2d.kernel.datapath import KernelDatapath  # pyroute2 only when needed

    return KernelDatapath() if rng is None else KernelDatapath(rng)
