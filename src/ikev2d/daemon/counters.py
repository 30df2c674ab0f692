"""The kernel's ESP counters per client: read for status, and polled for liveness.

``ClientCounters.update()`` reads the counters of every SA of ours in ONE kernel dump and
leaves each client its own sums (``Client.counters``, what status shows), not the kernel's
table of every SA (~250 bytes per client). ``TrafficPoll`` reads them every dpd_delay/2
while clients are connected and tells the responder which clients sent ESP since, so dead
peer detection probes only the idle ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ikev2d.compat import Logger

from .actions import Client

if TYPE_CHECKING:
    from ikev2d.kernel.tunnel import ChildTunnel

    from .datapath import Datapath

__all__ = ["COUNTER_NAMES", "ClientCounters", "Counters", "TrafficPoll"]

COUNTER_NAMES = ("bytes_in", "packets_in", "bytes_out", "packets_out")  # as status shows them
Counters = tuple[int, int, int, int]  # in COUNTER_NAMES order
_PACKETS_IN = COUNTER_NAMES.index("packets_in")


class ClientCounters:
    """Sums the kernel's per-SA counters over each client's tunnels."""

    def __init__(self, datapath: Datapath, tunnels: Mapping[int, ChildTunnel], log: Logger) -> None:
        self._datapath = datapath
        self._tunnels = tunnels  # inbound SPI -> the installed tunnel (Actions.tunnels)
        self._log = log

    def update(self, clients: Iterable[Client]) -> bool:
        """Read the kernel's table once and store each client's sums; False when it could not
        be read (the clients keep their last counters)."""
        try:
            table = self._datapath.all_counters()
        except OSError as exc:
            self._log.debug(f"reading SA counters: {exc}")
            return False
        for client in clients:
            client.counters = self._sums(client.tunnels, table)
        return True

    def _sums(self, spis: list[int], table: dict[int, tuple[int, int]]) -> Counters | None:
        """Counters summed over a client's tunnels (None: none of them in the kernel)."""
        found = False
        bytes_in = packets_in = bytes_out = packets_out = 0
        for spi in spis:
            tunnel = self._tunnels.get(spi)
            if tunnel is None or tunnel.inbound.spi not in table:
                continue
            found = True
            b_in, p_in = table[tunnel.inbound.spi]
            b_out, p_out = table.get(tunnel.outbound.spi, (0, 0))
            bytes_in, packets_in = bytes_in + b_in, packets_in + p_in
            bytes_out, packets_out = bytes_out + b_out, packets_out + p_out
        return (bytes_in, packets_in, bytes_out, packets_out) if found else None


class TrafficPoll:
    """DPD probes only idle clients: while clients are connected, look at the kernel's
    inbound packet counters every dpd_delay/2 and report who sent ESP (``note_traffic``)."""

    def __init__(
        self,
        counters: ClientCounters,
        clients: Mapping[int, Client],
        note_traffic: Callable[[int, float], None],
    ) -> None:
        self._counters = counters
        self._clients = clients  # IKE SA handle -> Client (Actions.clients)
        self._note_traffic = note_traffic
        self._seen_in: dict[int, int] = {}  # IKE SA handle -> inbound packets last seen
        self.due: float | None = None

    def arm(self, clock: Callable[[], float], dpd_delay: int) -> None:
        """Schedule the next look (none without DPD or clients); the clock is read only
        then."""
        if not dpd_delay or not self._clients:
            self.due = None
        elif self.due is None:
            self.due = clock() + max(dpd_delay / 2, 1.0)

    def poll(self, now: float) -> None:
        self.due = None
        if not self._counters.update(self._clients.values()):
            return
        seen = {}
        for handle, client in self._clients.items():
            if client.counters is None:
                continue
            packets = client.counters[_PACKETS_IN]
            seen[handle] = packets
            if packets != self._seen_in.get(handle, 0):  # rose (or a tunnel was replaced)
                self._note_traffic(handle, now)
        self._seen_in = seen
