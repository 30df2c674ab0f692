"""The datapath interface the daemon drives, and its kernel implementation.

The daemon never imports the kernel room at module level: ``open_kernel_datapath()`` does, so
unit tests (and ``ikev2d --check``) run without pyroute2 or NETLINK_XFRM. A test passes any
object with the methods of :class:`Datapath` (a small in-memory fake).
"""

from __future__ import annotations

import socket
from typing import Protocol

__all__ = ["Datapath", "open_kernel_datapath"]


class Datapath(Protocol):
    """What the daemon needs from the kernel (see ikev2d.kernel.xfrm.XfrmDatapath)."""

    def allocate_spi(self, src: str, dst: str) -> int:
        """A fresh inbound SPI for ESP from ``src`` (the client) to ``dst`` (us)."""

    def allocate_reqid(self) -> int: ...

    def install_child(self, tunnel) -> None: ...

    def remove_child(self, tunnel) -> None: ...

    def counters(self, tunnel): ...

    def all_counters(self) -> dict[int, tuple[int, int]]: ...

    def add_client_route(self, virtual_ip: str, peer: str, local_ts) -> None:
        """Route the client's virtual IP towards its outer address (kernel.routes)."""

    def remove_client_route(self, virtual_ip: str) -> None: ...

    def addresses_beside(self, address: str) -> list[str]:
        """Our other addresses on the interface holding `address` (kernel.addresses)."""

    def flush_owned(self) -> int: ...

    def block_pool(self, pools: list[str]) -> None:
        """Drop packets from the `pools` addresses that no client's ESP SA brought in
        (optional: a datapath without it is a test double)."""

    def fileno(self) -> int | None:
        """An fd that becomes readable when ``read_events`` has something, or None."""

    def read_events(self) -> list: ...

    def prepare_ike_socket(self, sock: socket.socket, natt: bool) -> None:
        """Make an IKE socket bypass IPsec policies; on the NAT-T port, decapsulate ESP."""

    def close(self) -> None: ...


def open_kernel_datapath():
    """The real datapath: XFRM over netlink in the current network namespace."""
    from ikev2d.kernel.sockets import bypass_ike_socket, enable_udp_encap
    from ikev2d.kernel.xfrm import XfrmDatapath  # pyroute2 only when needed

    class KernelDatapath(XfrmDatapath):
        """XFRM plus a /32 route to each client's virtual IP (see kernel.routes)."""

        _routes = None

        def _vip_routes(self):
            if self._routes is None:
                from ikev2d.kernel.routes import VirtualIpRoutes

                self._routes = VirtualIpRoutes()
            return self._routes

        def add_client_route(self, virtual_ip: str, peer: str, local_ts) -> None:
            self._vip_routes().add(virtual_ip, peer, local_ts)

        def remove_client_route(self, virtual_ip: str) -> None:
            self._vip_routes().remove(virtual_ip)

        def addresses_beside(self, address: str) -> list[str]:
            return self._vip_routes().addresses.beside(address)

        def flush_owned(self) -> int:
            return super().flush_owned() + self._vip_routes().flush()

        def close(self) -> None:
            super().close()
            if self._routes is not None:
                self._routes.close()

        def prepare_ike_socket(self, sock: socket.socket, natt: bool) -> None:
            bypass_ike_socket(sock)
            if natt:
                enable_udp_encap(sock)

    return KernelDatapath()
