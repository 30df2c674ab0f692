"""Responder events → kernel actions, log lines and client records: the ONE place that acts.

``Actions.apply(event)`` handles every event of ``ikev2d.ike.events``:

- ``IkeSaEstablished``  → a client record (for status) and a "connected" log line;
- ``ChildSaInstalled``  → a ``ChildTunnel`` built from the spec, installed in the kernel; a
  rekey (``replaces``) keeps its predecessor's reqid and is installed make-before-break: the
  new inbound SA at once, the new outbound SA just before the old tunnel is removed (so we
  never send on an SA the client may not have installed yet; the kernel sends on the newest
  SA matching the policy's reqid, so the switch needs no policy change);
- ``ChildSaUpdated``    → the tunnel moved to new outer addresses (MOBIKE, NAT re-mapping);
- ``ChildSaRemoved``    → that tunnel removed from the kernel;
- ``IkeSaRekeyed``      → the client record moves to the new IKE SA's handle;
- ``IkeKeysDerived``    → with ``--save-keys`` only: a line for Wireshark;
- ``IkeSaTerminated``   → the client record dropped, a "disconnected" log line;
- ``AuthenticationFailed`` / ``NegotiationFailed`` → a log line and the recent-failures list.

Log lines name identities, addresses and algorithms, never keys, nonces or the PSK.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ikev2d.compat import Logger
from ikev2d.wire.frozen import Frozen

from .udp import address_text

if TYPE_CHECKING:
    from ikev2d.ike import events as ev
    from ikev2d.kernel.tunnel import ChildTunnel, Lifetimes

    from .datapath import Datapath
    from .savekeys import KeyWriter

__all__ = ["MAX_FAILURES", "Actions", "Client", "Failure", "soft_lifetime", "tunnel_from_spec"]

MAX_FAILURES = 20  # failed attempts kept for the status page


class Client:
    """One connected client (an established IKE SA), as status shows it. `id` names the
    connection for status and disconnect: the first IKE SA's handle, kept across rekeys.
    (Not a dataclass: this module is on the daemon's start path, see wire/frozen.py.)"""

    __slots__ = (
        "counters", "esp_algorithms", "handle", "id", "identity", "ike_algorithms", "nat",
        "remote", "routed", "since", "tunnels", "virtual_ip", "virtual_ip6",
    )  # fmt: skip

    def __init__(
        self, id: str, handle: int, identity: str, remote: tuple[str, int],
        virtual_ip: str | None, nat: bool, ike_algorithms: str, since: float,
        esp_algorithms: str = "", virtual_ip6: str | None = None,
    ) -> None:  # fmt: skip
        self.id = id
        self.handle = handle
        self.identity = identity
        self.remote = remote
        self.virtual_ip = virtual_ip
        self.nat = nat
        self.ike_algorithms = ike_algorithms
        self.since = since  # unix time
        self.esp_algorithms = esp_algorithms
        self.tunnels: list[int] = []  # inbound SPIs of its Child SAs
        self.routed = False  # a route to its virtual IP is installed
        self.counters: tuple[int, int, int, int] | None = None  # as last read (COUNTER_NAMES)
        self.virtual_ip6 = virtual_ip6


class Failure(Frozen):
    __slots__ = ("code", "identity", "reason", "remote", "time")
    time: float  # unix time
    remote: str  # "ip:port"
    identity: str  # "" when the attempt failed before the client named itself
    reason: str  # in words, for people and logs
    code: str  # for programs: ike.errors.IkeError.code (docs/interfaces.md lists them)

    def __init__(self, time: float, remote: str, identity: str, reason: str, code: str) -> None:
        self._set(time=time, remote=remote, identity=identity, reason=reason, code=code)


def soft_lifetime(hard: int) -> int:
    """The kernel's soft limit: ~10 % (at most 5 min) before the hard one, never below 1 s."""
    margin = min(max(hard // 10, 1), 300)
    return max(hard - margin, 1)


def tunnel_from_spec(spec: ev.ChildSaSpec, reqid: int) -> ChildTunnel:
    """The kernel's ChildTunnel for a negotiated Child SA (lazy import: the kernel room)."""
    from ikev2d.kernel.tunnel import (  # keeps the core import-light
        ChildTunnel,
        EspTransform,
        Lifetimes,
        SaKeys,
        UdpEncap,
    )

    if spec.integ_xfrm is None:
        transform = EspTransform(spec.encr_xfrm, icv_bits=spec.icv_bits, esn=spec.esn)
    else:
        transform = EspTransform(
            spec.encr_xfrm, integ=spec.integ_xfrm, integ_trunc_bits=spec.icv_bits, esn=spec.esn
        )
    return ChildTunnel(
        local=spec.local[0],
        remote=spec.remote[0],
        inbound=SaKeys(spec.inbound_spi, spec.encr_key_in, spec.integ_key_in),
        outbound=SaKeys(spec.outbound_spi, spec.encr_key_out, spec.integ_key_out),
        transform=transform,
        local_ts=tuple(n for n in spec.local_ts if n not in spec.refused_ts),
        remote_ts=tuple(n for n in spec.remote_ts if n not in spec.refused_ts),
        reqid=reqid,
        encap=UdpEncap(*spec.encap) if spec.encap else None,
        lifetimes=_lifetimes(spec, Lifetimes),
    )


def _lifetimes(spec: ev.ChildSaSpec, lifetimes_type: type[Lifetimes]) -> Lifetimes:
    """Hard limit = the spec's lifetime; soft = the core's rekey time when it gives one, else
    a little below the hard limit."""
    soft = spec.soft_lifetime or soft_lifetime(spec.lifetime)
    soft_bytes = spec.lifetime_bytes or None
    # the hard byte limit a little above the rekey point, so a rekey needing retransmissions
    # still finishes before the kernel deletes the SA
    hard_bytes = soft_bytes + max(soft_bytes // 10, 1) if soft_bytes else None
    return lifetimes_type(
        soft_bytes=soft_bytes,
        hard_bytes=hard_bytes,
        soft_seconds=min(soft, spec.lifetime),
        hard_seconds=spec.lifetime,
    )


def _addresses(client: Client) -> list[str]:
    return [a for a in (client.virtual_ip, client.virtual_ip6) if a is not None]


class Actions:
    """Applies responder events to the datapath and keeps the daemon's view of clients.

    ``on_install_failed(ike_sa_handle)`` is called when the kernel refuses a Child SA, so the
    daemon can delete that IKE SA rather than keep a client whose traffic goes nowhere.
    """

    def __init__(
        self,
        datapath: Datapath,
        log: Logger,
        wall_clock: Callable[[], float],
        on_install_failed: Callable[[int], None] = lambda handle: None,
        key_writer: KeyWriter | None = None,
    ) -> None:
        self.datapath = datapath
        self.key_writer = key_writer  # with --save-keys only
        self.log = log
        self._wall = wall_clock
        self._on_install_failed = on_install_failed
        self.tunnels: dict[int, ChildTunnel] = {}  # inbound SPI -> the installed tunnel
        # old inbound SPI -> inbound SPI of the rekeyed tunnel whose outbound SA waits for it
        self.waiting_outbound: dict[int, int] = {}
        self.clients: dict[int, Client] = {}  # IKE SA handle -> Client
        self.failures: deque[Failure] = deque(maxlen=MAX_FAILURES)
        self.changed = False  # clients or failures changed since the last snapshot
        # outer address -> the interface its datagrams of this turn arrived on (the loop
        # fills it and forgets it once the turn's events are applied)
        self.arrived_on: dict[str, int] = {}

    def apply(self, event: ev.Event) -> None:
        handler = self._HANDLERS.get(type(event).__name__)
        if handler is None:
            self.log.debug(f"ignored event {type(event).__name__}")
            return
        handler(self, event)

    # -- IKE SAs ---------------------------------------------------------------------------
    def _established(self, e: ev.IkeSaEstablished) -> None:
        client = Client(
            f"{e.ike_sa:016x}", e.ike_sa, e.identity, e.remote, e.virtual_ip, e.nat,
            e.algorithms, self._wall(), virtual_ip6=e.virtual_ip6,
        )  # fmt: skip
        self.clients[e.ike_sa] = client
        self.changed = True
        nat = ", NAT" if e.nat else ""
        address = f", address {e.virtual_ip}" if e.virtual_ip else ", no address"
        address += f" and {e.virtual_ip6}" if e.virtual_ip6 else ""
        self.log.info(
            f"client {e.identity} ({address_text(e.remote)}{nat}) connected{address}, "
            f"{e.algorithms}"
        )

    def _rekeyed(self, e: ev.IkeSaRekeyed) -> None:
        client = self.clients.pop(e.old, None)
        if client is not None:
            client.handle = e.new
            self.clients[e.new] = client
        self.log.debug(f"IKE SA {e.old:016x} rekeyed, now {e.new:016x}")

    def _keys(self, e: ev.IkeKeysDerived) -> None:
        if self.key_writer is not None:
            try:
                self.key_writer.ike(e)
            except OSError as exc:
                self.log.error(f"--save-keys: {exc}")

    def _route(self, client: Client, spec: ev.ChildSaSpec) -> None:
        """(Re-)route the client's virtual IPs towards its outer address (kernel.routes)."""
        for address in _addresses(client):
            try:
                device = self.arrived_on.get(spec.remote[0])
                self.datapath.add_client_route(address, spec.remote[0], spec.local_ts, device)
                client.routed = True
            except Exception as exc:  # a missing route costs reachability, not the tunnel
                self.log.warning(f"no route to {address} installed: {exc}")

    def _unroute(self, client: Client) -> None:
        if not client.routed:
            return
        client.routed = False
        for address in _addresses(client):
            try:
                self.datapath.remove_client_route(address)
            except Exception as exc:
                self.log.warning(f"cannot remove the route to {address}: {exc}")

    def _terminated(self, e: ev.IkeSaTerminated) -> None:
        client = self.clients.pop(e.ike_sa, None)
        if client is not None:
            self._unroute(client)
        self.changed = True
        where = f" ({address_text(client.remote)})" if client else ""
        self.log.info(f"client {e.identity}{where} disconnected: {e.reason}")

    # -- Child SAs -------------------------------------------------------------------------
    def _child_installed(self, e: ev.ChildSaInstalled) -> None:
        spec = e.child
        old = self.tunnels.get(e.replaces) if e.replaces is not None else None
        try:
            if old is None:
                tunnel = tunnel_from_spec(spec, self.datapath.allocate_reqid())
                self.datapath.install_child(tunnel)
            else:
                tunnel = tunnel_from_spec(spec, old.reqid)
                self.datapath.install_child(tunnel, outbound=False)
                self.waiting_outbound[e.replaces] = spec.inbound_spi
        except (OSError, ValueError, RuntimeError) as exc:  # XfrmError is an OSError
            self.log.error(
                f"cannot install the tunnel of {spec.remote[0]} "
                f"(SPI {spec.inbound_spi:08x}) in the kernel: {exc}"
            )
            self._on_install_failed(e.ike_sa)
            return
        self.tunnels[spec.inbound_spi] = tunnel
        self._save_child_keys(spec)
        client = self.clients.get(e.ike_sa)
        if client is not None:
            client.tunnels.append(spec.inbound_spi)
            client.esp_algorithms = spec.algorithms
            self.changed = True
            if not client.routed:
                self._route(client, spec)
        self.log.debug(
            f"Child SA in {spec.inbound_spi:08x} out {spec.outbound_spi:08x} installed, "
            f"{', '.join(spec.local_ts)} <=> {', '.join(spec.remote_ts)}, {spec.algorithms}"
            + (f", UDP encapsulation {spec.encap[0]}/{spec.encap[1]}" if spec.encap else "")
            + (f", rekeying {e.replaces:08x}" if old is not None else "")
        )

    def _save_child_keys(self, spec: ev.ChildSaSpec) -> None:
        if self.key_writer is not None:
            try:
                self.key_writer.child(spec)
            except OSError as exc:
                self.log.error(f"--save-keys: {exc}")

    def _child_updated(self, e: ev.ChildSaUpdated) -> None:
        spi = e.old.inbound_spi
        tunnel = self.tunnels.get(spi)
        client = self.clients.get(e.ike_sa)
        if client is not None and client.remote != e.new.remote:
            client.remote = e.new.remote
            self.changed = True
            if client.routed and e.new.remote[0] != e.old.remote[0]:
                self._route(client, e.new)  # the way to the client may have changed
        if tunnel is None:
            return
        moved = tunnel_from_spec(e.new, tunnel.reqid)
        try:
            how = self.datapath.update_child(tunnel, moved)
        except (OSError, ValueError) as exc:
            self.log.error(f"cannot move Child SA {spi:08x} to {address_text(e.new.remote)}: {exc}")
            self._on_install_failed(e.ike_sa)
            return
        self.tunnels[spi] = moved
        self._save_child_keys(e.new)
        self.log.info(
            f"Child SA {spi:08x} moved to {address_text(e.new.local)} <=> "
            f"{address_text(e.new.remote)}"
            + (", UDP encapsulation" if e.new.encap else "")
            + f" ({how})"
        )

    def _release_waiting(self, old_spi: int) -> None:
        """The tunnel rekeying `old_spi` gets its outbound SA now, before the old one goes."""
        new_spi = self.waiting_outbound.pop(old_spi, None)
        tunnel = self.tunnels.get(new_spi) if new_spi is not None else None
        if tunnel is None:
            return
        try:
            self.datapath.install_outbound(tunnel)
        except OSError as exc:
            self.log.error(f"cannot install the outbound SA of Child SA {new_spi:08x}: {exc}")

    def _child_removed(self, e: ev.ChildSaRemoved) -> None:
        spi = e.child.inbound_spi
        self._release_waiting(spi)
        for old, new in list(self.waiting_outbound.items()):
            if new == spi:  # the rekeyed tunnel went first (a lost collision)
                del self.waiting_outbound[old]
        tunnel = self.tunnels.pop(spi, None)
        client = self.clients.get(e.ike_sa)
        if client is not None and spi in client.tunnels:
            client.tunnels.remove(spi)
            self.changed = True
        if tunnel is None:
            return  # its installation failed: nothing in the kernel
        try:
            self.datapath.remove_child(tunnel)
        except OSError as exc:
            self.log.error(f"cannot remove Child SA {spi:08x} from the kernel: {exc}")
            return
        self.log.debug(f"Child SA in {spi:08x} removed")

    def remove_all(self) -> None:
        """Remove every tunnel still installed (the daemon is stopping)."""
        self.waiting_outbound.clear()
        for client in self.clients.values():
            self._unroute(client)
        for spi in list(self.tunnels):
            tunnel = self.tunnels.pop(spi)
            try:
                self.datapath.remove_child(tunnel)
            except OSError as exc:
                self.log.error(f"cannot remove Child SA {spi:08x} from the kernel: {exc}")
        self.clients.clear()
        self.changed = True

    # -- failures --------------------------------------------------------------------------
    def _auth_failed(self, e: ev.AuthenticationFailed) -> None:
        identity = "" if e.identity == "?" else e.identity
        self._failure(e.remote, identity, f"authentication failed: {e.reason}", e.code)
        who = f"client {identity} " if identity else "a client "
        self.log.warning(f"{who}({address_text(e.remote)}) failed to authenticate: {e.reason}")

    def _negotiation_failed(self, e: ev.NegotiationFailed) -> None:
        self._failure(e.remote, "", f"negotiation failed: {e.reason}", e.code)
        self.log.warning(f"negotiation with {address_text(e.remote)} failed: {e.reason}")

    def _failure(self, remote: tuple[str, int], identity: str, reason: str, code: str) -> None:
        self.failures.append(Failure(self._wall(), address_text(remote), identity, reason, code))
        self.changed = True

    # A class-level dispatch table, never mutated, by the names of ike.events' classes: the
    # daemon does not build those ten dataclasses at start (issue 17), its first client does.
    _HANDLERS: dict = {
        "IkeSaEstablished": _established,
        "IkeSaTerminated": _terminated,
        "ChildSaInstalled": _child_installed,
        "ChildSaRemoved": _child_removed,
        "ChildSaUpdated": _child_updated,
        "IkeSaRekeyed": _rekeyed,
        "IkeKeysDerived": _keys,
        "AuthenticationFailed": _auth_failed,
        "NegotiationFailed": _negotiation_failed,
    }
