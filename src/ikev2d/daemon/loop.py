"""The event loop: IKE sockets, one timer, XFRM expire events, signals and the control socket.

    daemon = Daemon(config, datapath=open_kernel_datapath(), load_config=...)
    daemon.start()                       # flush stale kernel state, bind, control socket
    daemon.install_signal_handlers()     # main thread only: TERM/INT stop, HUP reload
    daemon.run()                         # until stopped; then a clean shutdown

Each turn: wait (selectors) until a socket is readable or the responder's one timer is due,
feed datagrams and time to the sans-IO responder, then `_pump`: apply its events (kernel state
first, so a Child SA is in the kernel before the IKE_AUTH response that announces it leaves),
then send its datagrams. Plain `selectors`, not asyncio: asyncio is a separate, heavier
OpenWrt package and one thread with one timer is all a responder needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable, Iterator

from ikev2d.compat import Logger
from ikev2d.ike.responder import Responder
from ikev2d.policy.config import ServerConfig, check_supported
from ikev2d.policy.errors import ConfigError

from .actions import Actions, address_text
from .control import CommandError, ControlServer
from .randomness import RandomPool
from .status import COUNTER_NAMES, client_view, failure_view, write_snapshot
from .udp import IkeSocket, listens_on, open_ike_sockets

__all__ = [
    "RESTART_OPTIONS",
    "SAVE_KEYS_WARNING",
    "SNAPSHOT_REFRESH",
    "Daemon",
    "router_memory",
    "snapshot_gap",
]

SAVE_KEYS_WARNING = (
    "WARNING: --save-keys is ON: IKE and ESP keys of every tunnel are written to {} "
    "- anyone who reads them can decrypt captured VPN traffic. Debugging only!"
)

SNAPSHOT_REFRESH = 5.0  # seconds between snapshot rewrites while clients are connected (bytes)
SNAPSHOT_MIN_GAP = 1.0  # connects and disconnects within this are written as one snapshot
# A snapshot costs ~12 µs per client (view + JSON, on a PC): with many clients connecting at
# once, the gap grows with their number so the cost per connect stays flat (4 s at 1000).
SNAPSHOT_GAP_PER_CLIENT = 0.004
_PACKETS_IN = COUNTER_NAMES.index("packets_in")
_MAX_BURST = 64  # datagrams read from one socket per turn, so no socket starves the others
# Options that a running daemon cannot change without rebinding: a restart applies them.
RESTART_OPTIONS = ("listen", "port", "natt_port", "control_socket", "state_dir")


def router_memory(path: str = "/proc/meminfo") -> int | None:
    """The machine's RAM in bytes (MemTotal), or None when it cannot be read. The responder
    derives the half-open limits nobody configured from it (ike.dos.HalfOpenLimits)."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def snapshot_gap(clients: int) -> float:
    """Seconds between two snapshots written for connects/disconnects (never above the
    periodic refresh)."""
    return min(SNAPSHOT_REFRESH, max(SNAPSHOT_MIN_GAP, clients * SNAPSHOT_GAP_PER_CLIENT))


class Daemon:
    def __init__(
        self,
        config: ServerConfig,
        *,
        datapath,
        load_config: Callable[[], ServerConfig] | None = None,
        log: Logger | None = None,
        rng: Callable[[int], bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        save_keys: str | None = None,
    ) -> None:
        self.config = config
        self.save_keys = save_keys  # a directory: IKE/ESP keys written for Wireshark
        self.datapath = datapath
        self.log = log or Logger(config.log_level)
        self._load_config = load_config
        self._rng = rng or RandomPool()
        self._clock, self._wall = clock, wall_clock
        self.responder = self._new_responder(config)
        writer = None
        if save_keys is not None:
            from .savekeys import KeyWriter

            writer = KeyWriter(save_keys)
        self.actions = Actions(datapath, self.log, wall_clock, self._install_failed, writer)
        self._next_traffic: float | None = None
        self._seen_in: dict[int, int] = {}  # IKE SA handle -> inbound packets last seen
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.sockets: list[IkeSocket] = []
        self.control: ControlServer | None = None
        self.started: float | None = None
        self._stopping = False
        self._signals = False  # install_signal_handlers() ran: the wake-up fd is ours
        self._reload_wanted = False
        self._next_refresh: float | None = None
        self._last_snapshot = float("-inf")

    def _new_responder(self, config: ServerConfig) -> Responder:
        # The responder passes (local, remote); the kernel's larval SA is remote -> local.
        def allocate_spi(local: str, remote: str) -> int:
            return self.datapath.allocate_spi(remote, local)

        from ikev2d.daemon.credentials import load_credentials

        return Responder(
            config,
            rng=self._rng,
            allocate_spi=allocate_spi,
            export_keys=self.save_keys is not None,
            credentials=load_credentials(config, self.log, self._wall()),
            wall_clock=self._wall,
            other_addresses=self._other_addresses,
            memory_bytes=router_memory(),
        )

    def _other_addresses(self, contacted: str) -> list[str]:
        """Our other addresses a MOBIKE client may move to: those of the interface it
        contacted that one of our IKE sockets receives on."""
        try:
            found = self.datapath.addresses_beside(contacted)
        except (OSError, AttributeError) as exc:  # no such kernel (a test's datapath)
            self.log.debug(f"our other addresses are unknown: {exc}")
            return []
        return [a for a in found if listens_on(self.sockets, a)]

    # -- start and stop --------------------------------------------------------------------
    def start(self) -> None:
        """Remove stale kernel state, bind the IKE sockets and the control socket."""
        stale = self.datapath.flush_owned()
        if stale:
            self.log.info(f"removed {stale} kernel SAs/policies left by an earlier run")
        cfg = self.config
        self._block_pools(cfg)
        self.sockets = open_ike_sockets(
            cfg.listen, cfg.port, cfg.natt_port, self.datapath.prepare_ike_socket, self.log
        )
        for s in self.sockets:
            self._selector.register(s.sock, selectors.EVENT_READ, lambda m, s=s: self._on_ike(s))
        fd = self.datapath.fileno()
        if fd is not None:
            self._selector.register(fd, selectors.EVENT_READ, lambda m: self._on_kernel())
        self._selector.register(self._wake_r, selectors.EVENT_READ, lambda m: self._on_wake())
        self.control = ControlServer(cfg.control_socket, self._selector, self.commands(), self.log)
        self.started = self._wall()
        self._snapshot()
        where = ", ".join(address_text(s.bound) for s in self.sockets)
        self.log.info(f"ikev2d started, listening on {where}")
        limits = self.responder.limits
        self.log.debug(
            f"half-open IKE SAs: at most {limits.total} ({limits.per_ip} per address), "
            f"cookies from {limits.cookie_threshold} ({limits.cookie_threshold_per_ip} per address)"
        )
        if self.save_keys is not None:
            self.log.warning(SAVE_KEYS_WARNING.format(self.save_keys))

    def _block_pools(self, config: ServerConfig) -> None:
        """Clear packets from pool addresses are dropped by the kernel; only a client's ESP
        SA may bring them in (kernel.xfrm.XfrmDatapath.block_pool)."""
        block = getattr(self.datapath, "block_pool", None)
        if block is None:
            return
        pools = [str(p) for p in (config.pool, config.pool6) if p is not None]
        try:
            block(pools)
        except OSError as exc:
            self.log.error(f"cannot block clear packets from {', '.join(pools)}: {exc}")

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: clean stop; SIGHUP: reload. Only from the main thread."""
        self._signals = True
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, lambda signo, frame: self.request_stop())
        signal.signal(signal.SIGINT, lambda signo, frame: self.request_stop())
        signal.signal(signal.SIGHUP, lambda signo, frame: self.request_reload())

    def request_stop(self) -> None:
        """Stop after the current turn (safe from a signal handler or another thread)."""
        self._stopping = True
        self._wake()

    def request_reload(self) -> None:
        self._reload_wanted = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def run(self) -> None:
        """Serve until request_stop(), then shut down cleanly and close."""
        try:
            while not self._stopping:
                self.run_once()
            self.shutdown()
        finally:
            self.close()

    def shutdown(self) -> None:
        """Delete every IKE SA, send the Deletes, remove all kernel state we installed."""
        self.log.info("stopping: deleting all IKE SAs")
        self.responder.shutdown(self._clock())
        self._pump()
        self.actions.remove_all()
        try:
            self.datapath.flush_owned()
        except OSError as exc:
            self.log.error(f"cannot flush kernel state: {exc}")
        self._snapshot(running=False)

    def close(self) -> None:
        if self._signals:
            # a SIGTERM after this (procd repeats it) must not write to the closed wake-up
            # socket, or to whatever file gets its number next
            signal.set_wakeup_fd(-1)
            self._signals = False
        if self.control is not None:
            self.control.close()
            self.control = None
        for s in self.sockets:
            s.close()
        self.sockets = []
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self.datapath.close()

    # -- one turn --------------------------------------------------------------------------
    def run_once(self, max_wait: float | None = None) -> None:
        timeout = self._timeout(max_wait)
        for key, mask in self._selector.select(timeout):
            key.data(mask)
        # one clock read per turn from here on (a syscall where the clock has no vDSO)
        now = self._clock()
        timer = self.responder.get_timer()
        if timer is not None and timer <= now:
            self.responder.handle_timer(now)
        self._pump()
        if self._reload_wanted:
            self._reload_wanted = False
            with contextlib.suppress(CommandError):  # already logged
                self.reload()
        if self._next_traffic is not None and now >= self._next_traffic:
            self._poll_traffic(now)
        if self.actions.changed or (self._next_refresh is not None and now >= self._next_refresh):
            self._snapshot()

    def _timeout(self, max_wait: float | None) -> float | None:
        self._arm_traffic_poll()
        pending = (self.responder.get_timer(), self._next_refresh, self._next_traffic)
        deadlines = [t for t in pending if t is not None]
        if self._stopping or self._reload_wanted:
            return 0
        if not deadlines and max_wait is None:
            return None
        now = self._clock()
        if max_wait is not None:
            deadlines.append(now + max_wait)
        return max(min(deadlines) - now, 0)

    def _on_ike(self, s: IkeSocket) -> None:
        now = self._clock()  # for the whole burst: it is read in one go
        for _ in range(_MAX_BURST):
            try:
                got = s.receive()
            except OSError as exc:  # e.g. ICMP errors reported on the socket
                self.log.debug(f"receive on {address_text(s.bound)}: {exc}")
                continue
            if got is None:
                return
            data, remote, local = got
            if not data:
                continue  # NAT keepalive, ESP the kernel did not take, truncated datagram
            try:
                self.responder.receive_datagram(data, remote, local, now)
            except Exception as exc:  # a responder bug must not stop the server
                self.log.error(
                    f"internal error on a message from {address_text(remote)}: "
                    f"{type(exc).__name__}: {exc}"
                )

    def _on_kernel(self) -> None:
        try:
            events = self.datapath.read_events()
        except OSError as exc:
            self.log.error(f"reading kernel events: {exc}")
            return
        now = self._clock()
        for event in events:
            name = type(event).__name__
            spi = getattr(event, "spi", None)
            if spi is not None:  # SaExpired: soft = rekey now, hard = the kernel deleted it
                kind = "hard" if event.hard else "soft"
                self.log.info(f"kernel: Child SA {spi:08x} reached its {kind} lifetime")
                try:
                    self.responder.handle_kernel_expire(spi, event.hard, now)
                except Exception as exc:  # a responder bug must not stop the server
                    self.log.error(f"internal error on expire of {spi:08x}: {exc!r}")
            elif name == "EventsLost":
                self.log.warning(
                    "kernel: expire events were lost; the responder's own timers rekey"
                )
            else:
                self.log.debug(f"kernel: {name}")

    # -- liveness from ESP counters ----------------------------------------------------------
    def _arm_traffic_poll(self) -> None:
        """DPD probes only idle clients: while clients are connected, look at the kernel's
        inbound packet counters every dpd_delay/2 and tell the responder who sent ESP."""
        dpd = self.config.dpd_delay
        if not dpd or not self.actions.clients:
            self._next_traffic = None
        elif self._next_traffic is None:
            self._next_traffic = self._clock() + max(dpd / 2, 1.0)

    def _poll_traffic(self, now: float) -> None:
        self._next_traffic = None
        seen = {}
        table = self._read_counters()
        if table is None:
            return
        for handle, client in self.actions.clients.items():
            client.counters = counters = self._counters(client.tunnels, table)
            if counters is None:
                continue
            packets = counters[_PACKETS_IN]
            seen[handle] = packets
            if packets != self._seen_in.get(handle, 0):  # rose (or a tunnel was replaced)
                self.responder.note_traffic(handle, now)
        self._seen_in = seen

    def _on_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(512):
                pass

    def _pump(self) -> None:
        """Apply every pending event, then send every pending datagram."""
        responder = self.responder
        while (event := responder.next_event()) is not None:
            self.actions.apply(event)
        for data, local, remote in responder.datagrams_to_send():
            self._send(data, local, remote)

    def _send(self, data: bytes, local, remote) -> None:
        s = self._socket_for(local)
        if s is None:
            self.log.error(f"no socket for {address_text(local)}: dropped a message")
            return
        try:
            s.send(data, local, remote)
        except OSError as exc:  # UDP: the responder retransmits what matters
            self.log.debug(f"send to {address_text(remote)} failed: {exc}")

    def _socket_for(self, local) -> IkeSocket | None:
        fallback = None
        v6 = ":" in local[0]
        for s in self.sockets:
            if s.bound[1] != local[1] or (s.family == socket.AF_INET6) != v6:
                continue
            if s.bound[0] == local[0]:
                return s
            if s.bound[0] in ("0.0.0.0", "::"):  # noqa: S104 - matching the wildcard bind
                fallback = s
        return fallback

    def _install_failed(self, handle: int) -> None:
        for sa in self.responder.find(f"{handle:016x}"):
            self.responder.disconnect(sa, self._clock(), "the kernel refused its tunnel")

    # -- status and commands ---------------------------------------------------------------
    def clients(self, *, fresh: bool = True) -> list[dict]:
        """Client views with kernel counters (read now, or as last read)."""
        return list(self._client_views(fresh))

    def _client_views(self, fresh: bool) -> Iterator[dict]:
        """Views with counters read now (`fresh`) or as last read. Each client keeps only its
        own sums between reads, not the kernel's table of every SA (~250 bytes per client)."""
        table = self._read_counters() if fresh else None
        for client in self.actions.clients.values():
            if table is not None:
                client.counters = self._counters(client.tunnels, table)
            yield client_view(client, client.counters)

    def _read_counters(self) -> dict[int, tuple[int, int]] | None:
        """(bytes, packets) of all our SAs by SPI from one kernel dump; None if it failed."""
        try:
            return self.datapath.all_counters()
        except OSError as exc:
            self.log.debug(f"reading SA counters: {exc}")
            return None

    def _counters(self, spis: list[int], table: dict[int, tuple[int, int]]) -> tuple | None:
        """Counters (COUNTER_NAMES) summed over a client's tunnels (None: none of them in the
        kernel)."""
        found = False
        bytes_in = packets_in = bytes_out = packets_out = 0
        for spi in spis:
            tunnel = self.actions.tunnels.get(spi)
            if tunnel is None or tunnel.inbound.spi not in table:
                continue
            found = True
            b_in, p_in = table[tunnel.inbound.spi]
            b_out, p_out = table.get(tunnel.outbound.spi, (0, 0))
            bytes_in, packets_in = bytes_in + b_in, packets_in + p_in
            bytes_out, packets_out = bytes_out + b_out, packets_out + p_out
        return (bytes_in, packets_in, bytes_out, packets_out) if found else None

    def status(self, *, running: bool = True, fresh: bool = True, stream: bool = False) -> dict:
        """The `status` result; `stream`: the clients as an iterator, for write_snapshot."""
        now = self._wall()
        started = self.started if self.started is not None else now
        clients = self._client_views(fresh) if running else ()
        return {
            "running": running,
            "pid": os.getpid(),
            **({} if running else {"reason": "stopped"}),
            "started": int(started),
            "uptime": int(now - started),
            "listen": [address_text(s.bound) for s in self.sockets],
            "clients": clients if stream else list(clients),
            "failures": [failure_view(f) for f in self.actions.failures],
            **({"save_keys": SAVE_KEYS_WARNING.format(self.save_keys)} if self.save_keys else {}),
        }

    def _snapshot(self, *, running: bool = True) -> None:
        """Rewrite status.json. Counters are read fresh only on the periodic refresh: a burst
        of connects must not cost a kernel dump (and a JSON of every client) per connect."""
        now = self._clock()
        gap = snapshot_gap(len(self.actions.clients))
        if running and self.actions.changed and now < self._last_snapshot + gap:
            self._next_refresh = self._last_snapshot + gap  # coalesce the burst
            return
        fresh = self._next_refresh is not None and now >= self._next_refresh
        self.actions.changed = False
        self._last_snapshot = now
        self._next_refresh = now + SNAPSHOT_REFRESH if running and self.actions.clients else None
        try:
            write_snapshot(
                self.config.state_dir, self.status(running=running, fresh=fresh, stream=True)
            )
        except OSError as exc:
            self.log.error(f"cannot write the status snapshot: {exc}")

    def commands(self) -> dict[str, Callable[[dict], object]]:
        return {
            "status": lambda req: self.status(),
            "clients": lambda req: self.clients(),
            "disconnect": self._cmd_disconnect,
            "reload": lambda req: self.reload(),
            "check": lambda req: self.check(),
            "profile": self._cmd_profile,
        }

    def _cmd_profile(self, request: dict) -> dict:
        """A client setup file for LuCI's download buttons (ikev2ctl profile does the same
        from the files)."""
        from ikev2d.profiles import PLATFORMS, ProfileError, profile_command
        from ikev2d.profiles.render import pki_material

        platform, user = request.get("platform"), request.get("user") or None
        if platform not in PLATFORMS:
            raise CommandError(f'profile needs a "platform": one of {", ".join(PLATFORMS)}')
        if user is not None and (not isinstance(user, str) or len(user) > 128):
            raise CommandError('"user" must be a user name')
        try:
            return profile_command(
                self.config, platform, user, **pki_material(self.config.pki_dir, user)
            )
        except ProfileError as exc:
            raise CommandError(str(exc)) from None

    def _cmd_disconnect(self, request: dict) -> dict:
        """``{"id": ...}`` ends that one connection (the id status gives); ``{"target": ...}``
        every connection of that identity, user name or virtual IP."""
        connection, target = request.get("id"), request.get("target")
        if isinstance(connection, str) and connection:
            found = self._connection(connection)
        elif isinstance(target, str) and target.strip():
            found = self.responder.find(target.strip())
            if not found:
                raise CommandError(f"no connected client matches {target.strip()[:100]!r}")
        else:
            raise CommandError(
                'disconnect needs an "id" (from status) or a "target": an identity or a virtual IP'
            )
        names = []
        for sa in found:
            names.append(sa.client.name)
            self.responder.disconnect(sa, self._clock(), "disconnected by the administrator")
        self._pump()
        self._snapshot()
        return {"disconnected": names}

    def _connection(self, connection: str) -> list:
        """The IKE SA of the connection status lists with this id (a list of one)."""
        for client in self.actions.clients.values():
            if client.id == connection:
                sas = self.responder.find(f"{client.handle:016x}")
                return [sa for sa in sas if sa.handle == client.handle]
        raise CommandError(f"no connection {connection[:40]!r}: it has ended")

    # -- configuration -----------------------------------------------------------------------
    def _read_config(self) -> ServerConfig:
        if self._load_config is None:
            raise CommandError("started without a configuration file: nothing to re-read")
        config = self._load_config()
        check_supported(config)
        return config

    def check(self) -> dict:
        """Validate the configuration file as it is on disk now."""
        try:
            config = self._read_config()
        except ConfigError as exc:
            return {"valid": False, "problems": [str(exc)], "warnings": []}
        return {"valid": True, "problems": [], "warnings": list(config.warnings)}

    def reload(self) -> dict:
        """Re-read the configuration and apply it; connected clients the change does not
        affect stay up (the responder's update_config). An invalid file changes nothing."""
        try:
            new = self._read_config()
        except ConfigError as exc:
            self.log.error(f"reload refused, keeping the running configuration: {exc}")
            raise CommandError(str(exc)) from None
        for warning in new.warnings:
            self.log.warning(warning)
        from ikev2d.daemon.credentials import load_credentials

        # certificates live beside the configuration: a renewal, an import or a revocation
        # (ikev2ctl pki revoke) applies on reload too
        revoked = self.responder.update_credentials(
            load_credentials(new, self.log, self._wall()), self._clock()
        )
        if revoked:
            self._pump()
            self._snapshot()
        if new == self.config:
            message = "configuration unchanged"
            if revoked:
                message += f"; {len(revoked)} client(s) with a revoked certificate disconnected"
            return self._reloaded(bool(revoked), message)
        changed = [n for n in RESTART_OPTIONS if getattr(new, n) != getattr(self.config, n)]
        if changed:  # the sockets stay as bound; everything else applies now
            new = dataclasses.replace(new, **{n: getattr(self.config, n) for n in changed})
        dropped = self.responder.update_config(new, self._clock())
        if (new.pool, new.pool6) != (self.config.pool, self.config.pool6):
            self._block_pools(new)
        self.config = new
        self.log.set_level(new.log_level)
        self._pump()
        self._snapshot()
        message = "configuration reloaded"
        if dropped:
            message += f", {len(dropped)} client(s) disconnected by the change"
        if changed:
            message += f"; {', '.join(changed)} changed: restart ikev2d to apply"
        result = self._reloaded(True, message)
        result["disconnected"] = [sa.client.name for sa in dropped]
        result["restart_needed"] = changed
        return result

    def _reloaded(self, applied: bool, message: str) -> dict:
        quiet = (applied and "restart" not in message) or message.endswith("unchanged")
        (self.log.info if quiet else self.log.warning)(f"reload: {message}")
        return {"applied": applied, "message": message}
