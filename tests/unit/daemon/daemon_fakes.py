"""An in-memory datapath with the daemon's Datapath interface (no kernel, no netlink)."""

from __future__ import annotations

import os

from ikev2d.kernel.tunnel import REQID_LARVAL, Counters


class FakeDatapath:
    def __init__(self) -> None:
        self.installed: dict[int, object] = {}  # inbound SPI -> ChildTunnel
        self.removed: list[object] = []
        self.spi_calls: list[tuple[str, str]] = []
        self.prepared: list[tuple[int, bool]] = []
        self.flushes = 0
        self.closed = False
        self.refuse_install = False
        self.counts: dict[int, Counters] = {}
        self.ops: list[tuple[str, int]] = []  # ("in"/"out"/"remove"/"move", inbound SPI)
        self.moves: list[tuple[object, object]] = []
        self.routes: dict[str, tuple] = {}  # virtual IP -> (peer, local_ts)
        self._next_spi = 0xC000_1000
        self._next_reqid = REQID_LARVAL + 1
        self._events: list = []
        self._r, self._w = os.pipe()

    def allocate_spi(self, src: str, dst: str) -> int:
        self.spi_calls.append((src, dst))
        self._next_spi += 1
        return self._next_spi

    def allocate_reqid(self) -> int:
        self._next_reqid += 1
        return self._next_reqid

    def install_child(self, tunnel, *, outbound: bool = True) -> None:
        if self.refuse_install:
            raise OSError(1, "Operation not permitted")
        self.installed[tunnel.inbound.spi] = tunnel
        self.ops.append(("in", tunnel.inbound.spi))
        if outbound:
            self.ops.append(("out", tunnel.inbound.spi))

    def install_outbound(self, tunnel) -> None:
        assert tunnel.inbound.spi in self.installed
        self.ops.append(("out", tunnel.inbound.spi))

    def update_child(self, old, new) -> str:
        assert self.installed[old.inbound.spi] == old
        self.installed[new.inbound.spi] = new
        self.moves.append((old, new))
        self.ops.append(("move", new.inbound.spi))
        return "migrate"

    def add_client_route(self, virtual_ip: str, peer: str, local_ts) -> None:
        self.routes[virtual_ip] = (peer, tuple(local_ts))

    def remove_client_route(self, virtual_ip: str) -> None:
        del self.routes[virtual_ip]

    def remove_child(self, tunnel) -> None:
        del self.installed[tunnel.inbound.spi]
        self.removed.append(tunnel)
        self.ops.append(("remove", tunnel.inbound.spi))

    def counters(self, tunnel) -> Counters:
        return self.counts.get(tunnel.inbound.spi, Counters(0, 0, 0, 0))

    def all_counters(self) -> dict[int, tuple[int, int]]:
        """(bytes, packets) by SPI, as the kernel's dump gives them."""
        self.dumps = getattr(self, "dumps", 0) + 1
        table = {}
        for spi, tunnel in self.installed.items():
            c = self.counts.get(spi, Counters(0, 0, 0, 0))
            table[tunnel.inbound.spi] = (c.bytes_in, c.packets_in)
            table[tunnel.outbound.spi] = (c.bytes_out, c.packets_out)
        return table

    def flush_owned(self) -> int:
        self.flushes += 1
        return 0

    def block_pool(self, pools: list[str]) -> None:
        self.blocked_pools = [*getattr(self, "blocked_pools", []), pools]

    def fileno(self) -> int:
        return self._r

    def push_event(self, event) -> None:
        self._events.append(event)
        os.write(self._w, b"x")

    def read_events(self) -> list:
        os.read(self._r, 4096)
        events, self._events = self._events, []
        return events

    def prepare_ike_socket(self, sock, natt: bool) -> None:
        self.prepared.append((sock.family, natt))

    def close(self) -> None:
        if not self.closed:
            os.close(self._r)
            os.close(self._w)
        self.closed = True
