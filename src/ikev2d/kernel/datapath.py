"""The daemon's datapath on the real kernel: XFRM, the clients' routes, the IKE sockets.

``KernelDatapath`` is what ``ikev2d.daemon.datapath.open_kernel_datapath()`` returns: the
daemon's ``Datapath`` contract over :class:`~ikev2d.kernel.xfrm.XfrmDatapath` (Child SAs,
policies, SPIs, counters, expire events), :class:`~ikev2d.kernel.routes.VirtualIpRoutes`
(a route per pool, a /32 for a client off its path; our other addresses for MOBIKE) and the
socket options of :mod:`ikev2d.kernel.sockets`. Every socket is opened in the constructor, so
a datapath made inside a network namespace works in that namespace only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence

from ikev2d.kernel.routes import VirtualIpRoutes
from ikev2d.kernel.sockets import bypass_ike_socket, enable_udp_encap
from ikev2d.kernel.xfrm import XfrmDatapath

__all__ = ["KernelDatapath"]


class KernelDatapath(XfrmDatapath):
    """XFRM plus the routes to the clients' virtual IPs (see kernel.routes)."""

    def __init__(self, rng: Callable[[int], bytes] = os.urandom) -> None:
        super().__init__(rng=rng)
        try:
            self._routes = VirtualIpRoutes()
        except BaseException:
            super().close()
            raise

    def add_client_route(
        self, virtual_ip: str, peer: str, local_ts: Sequence[str], device: int | None = None
    ) -> None:
        self._routes.add(virtual_ip, peer, local_ts, device)

    def remove_client_route(self, virtual_ip: str) -> None:
        self._routes.remove(virtual_ip)

    def addresses_beside(self, address: str) -> list[str]:
        return self._routes.addresses.beside(address)

    def block_pool(self, pools: Sequence[str]) -> None:
        super().block_pool(pools)
        self._routes.cover(pools)

    def flush_owned(self) -> int:
        return super().flush_owned() + self._routes.flush()

    def prepare_ike_socket(self, sock: socket.socket, natt: bool) -> None:
        bypass_ike_socket(sock)
        if natt:
            enable_udp_encap(sock)

    def close(self) -> None:
        super().close()
        self._routes.close()
