"""The datapath in memory: the ``Datapath`` contract kept in dictionaries, no kernel.

The unit tests and the in-process benchmarks (``bench.memory``) run the daemon on it; the
contract test (testbed/datapath_contract.py) holds it to what ``KernelDatapath`` does.
What a test needs beyond the contract is here too and never called by the daemon: traffic on
an SA (``count``), an expire event (``push_event``), a refused install (``refuse_install``)
and the order of the kernel operations (``journal``).

Per client it keeps one dictionary entry (the tunnel object the daemon holds anyway), so the
benchmarks measure the daemon's memory, not this stand-in's; ``journal=False`` keeps no log.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Sequence

from ikev2d.kernel.spis import InboundSpis
from ikev2d.kernel.tunnel import (
    OWNED_REQIDS,
    REQID_LARVAL,
    ChildTunnel,
    EventsLost,
    PolicyExpired,
    SaExpired,
)

__all__ = ["MemoryDatapath"]

KernelEvent = SaExpired | PolicyExpired | EventsLost


class MemoryDatapath:
    """Child SAs, routes and pool blocks as the kernel would hold them, in this process."""

    def __init__(self, *, journal: bool = True) -> None:
        self.installed: dict[int, ChildTunnel] = {}  # inbound SPI -> tunnel
        self._no_outbound: set[int] = set()  # inbound SPIs installed with outbound=False
        self._spis = InboundSpis(os.urandom)  # as the kernel datapath draws them
        self._traffic: dict[int, tuple[int, int]] = {}  # SPI -> (bytes, packets) counted
        self.routes: dict[str, tuple[str, tuple[str, ...]]] = {}  # virtual IP -> (peer, ts)
        self.route_devices: dict[str, int | None] = {}  # virtual IP -> the device it came on
        self.blocked_pools: list[str] = []
        self.neighbours: dict[str, list[str]] = {}  # an address -> others on its interface
        self.journal: list[tuple[str, int | str]] | None = [] if journal else None
        self.prepared: list[tuple[int, bool]] = []  # (family, natt) of each IKE socket
        self.refuse_install = False
        self.flushes = 0
        self.closed = False
        self._next_reqid = REQID_LARVAL + 1
        self._reqids_wrapped = False
        self._events: list[KernelEvent] = []
        self._wakeup: tuple[int, int] | None = None  # a pipe, made when fileno() is asked

    def _note(self, operation: str, what: int | str) -> None:
        if self.journal is not None:
            self.journal.append((operation, what))

    # -- SPIs and reqids ----------------------------------------------------------------------
    def allocate_spi(self, src: str, dst: str) -> int:
        spi = self._spis.new()
        self._note("allocate_spi", f"{src} -> {dst}")
        return spi

    def allocate_reqid(self) -> int:
        # Until the counter has gone round the range once, the next reqid was never given out:
        # only then is what is installed looked at (a connect at 1000 clients must not cost
        # a look at each, or the in-process benchmarks measure this stand-in).
        in_use = {t.reqid for t in self.installed.values()} if self._reqids_wrapped else ()
        for _ in range(len(OWNED_REQIDS)):
            reqid = self._next_reqid
            if reqid + 1 < OWNED_REQIDS.stop:
                self._next_reqid = reqid + 1
            else:
                self._next_reqid, self._reqids_wrapped = REQID_LARVAL + 1, True
            if reqid not in in_use:
                return reqid
        raise RuntimeError("every ikev2d reqid is in use")

    # -- Child SAs ----------------------------------------------------------------------------
    def install_child(self, tunnel: ChildTunnel, *, outbound: bool = True) -> None:
        if self.refuse_install:
            self._spis.released(tunnel.inbound.spi)
            raise OSError(errno.EPERM, "Operation not permitted (refuse_install)")
        spi = tunnel.inbound.spi
        if spi in self.installed:
            raise OSError(errno.EEXIST, f"an SA with SPI {spi:08x} exists")
        self._spis.installed(spi)
        self.installed[spi] = tunnel
        self._note("in", spi)
        if outbound:
            self._note("out", spi)
        else:
            self._no_outbound.add(spi)

    def install_outbound(self, tunnel: ChildTunnel) -> None:
        self._no_outbound.discard(tunnel.inbound.spi)
        self._note("out", tunnel.inbound.spi)

    def update_child(self, old: ChildTunnel, new: ChildTunnel) -> str:
        if (old.inbound.spi, old.outbound.spi, old.reqid) != (
            new.inbound.spi, new.outbound.spi, new.reqid,
        ):  # fmt: skip
            raise ValueError("update_child keeps SPIs and reqid; rekey for new ones")
        self.installed[new.inbound.spi] = new
        self._note("move", new.inbound.spi)
        return "migrate"

    def remove_child(self, tunnel: ChildTunnel) -> None:
        spi = tunnel.inbound.spi
        if self.installed.pop(spi, None) is None:
            return
        self._spis.released(spi)
        self._no_outbound.discard(spi)
        self._traffic.pop(spi, None)
        self._traffic.pop(tunnel.outbound.spi, None)
        self._note("remove", spi)

    def all_counters(self) -> dict[int, tuple[int, int]]:
        table: dict[int, tuple[int, int]] = {}
        for spi, tunnel in self.installed.items():
            table[spi] = self._traffic.get(spi, (0, 0))
            if spi not in self._no_outbound:
                table[tunnel.outbound.spi] = self._traffic.get(tunnel.outbound.spi, (0, 0))
        return table

    def count(self, spi: int, data: int, packets: int) -> None:
        """Traffic through the SA `spi` (a test's ESP): its counters grow as the kernel's."""
        total, number = self._traffic.get(spi, (0, 0))
        self._traffic[spi] = (total + data, number + packets)

    # -- routes, addresses, the pools ---------------------------------------------------------
    def add_client_route(
        self, virtual_ip: str, peer: str, local_ts: Sequence[str], device: int | None = None
    ) -> None:
        self.routes[virtual_ip] = (peer, tuple(local_ts))
        self.route_devices[virtual_ip] = device

    def remove_client_route(self, virtual_ip: str) -> None:
        self.routes.pop(virtual_ip, None)
        self.route_devices.pop(virtual_ip, None)

    def addresses_beside(self, address: str) -> list[str]:
        ipaddress.ip_address(address)  # the kernel's lookup refuses what is no address
        return list(self.neighbours.get(address, ()))

    def block_pool(self, pools: Sequence[str]) -> None:
        self.blocked_pools = [str(ipaddress.ip_network(p)) for p in pools]

    # -- start, events, stop ------------------------------------------------------------------
    def flush_owned(self) -> int:
        self.flushes += 1
        removed = len(self.all_counters()) + len(self.routes) + len(self.blocked_pools)
        self.installed.clear()
        self._no_outbound.clear()
        self._spis.clear()
        self._traffic.clear()
        self.routes.clear()
        self.route_devices.clear()
        self.blocked_pools = []
        return removed

    def prepare_ike_socket(self, sock: socket.socket, natt: bool) -> None:
        self.prepared.append((sock.family, natt))

    def fileno(self) -> int | None:
        if self._wakeup is None:
            self._wakeup = os.pipe()
            os.set_blocking(self._wakeup[0], False)
        return self._wakeup[0]

    def push_event(self, event: KernelEvent) -> None:
        """An expire event as the kernel would send it; fileno() becomes readable."""
        self._events.append(event)
        if self._wakeup is not None:
            os.write(self._wakeup[1], b"x")

    def read_events(self) -> list[KernelEvent]:
        if self._wakeup is not None:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wakeup[0], 4096)
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        if self._wakeup is not None:
            os.close(self._wakeup[0])
            os.close(self._wakeup[1])
            self._wakeup = None
        self.closed = True
