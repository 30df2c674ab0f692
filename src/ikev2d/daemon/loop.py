"""The event loop: IKE sockets, one timer, kernel events, signals and the control socket.

    daemon = Daemon(config, datapath=open_kernel_datapath(), load_config=...)
    daemon.start()                       # flush stale kernel state, bind, control socket
    daemon.install_signal_handlers()     # main thread only: TERM/INT stop, HUP reload
    daemon.run()                         # until stopped; then a clean shutdown

Each turn: wait (selectors) until a socket is readable or a deadline is due (the responder's
one timer, the counter poll, the snapshot refresh), feed datagrams and time to the sans-IO
responder, then `_pump`: apply its events (kernel state first, so a Child SA is in the kernel
before the IKE_AUTH response that announces it leaves), then send its datagrams. Plain
`selectors`, not asyncio: asyncio is a separate, heavier OpenWrt package and one thread with
one timer is all a responder needs.

The other jobs have their own objects, which the Daemon builds and wires together:
`Actions` (events → kernel), `TrafficPoll` and `ClientCounters` (the kernel's counters),
`SnapshotSchedule` (status.json), `ControlCommands` (the control socket), `Reloader` (the
running configuration).
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import time
from collections.abc import Callable

from ikev2d.compat import Logger
from ikev2d.ike.responder import Responder
from ikev2d.policy.config import ServerConfig

from .actions import Actions
from .commands import ControlCommands
from .control import CommandError, ControlServer
from .counters import ClientCounters, TrafficPoll
from .credentials import load_credentials
from .datapath import Datapath
from .randomness import RandomPool
from .reload import Reloader, block_pools
from .snapshot import SnapshotSchedule
from .status import SAVE_KEYS_WARNING, StatusReport
from .udp import IkeSocket, IkeSockets, address_text

__all__ = ["Daemon", "router_memory"]

_MAX_BURST = 64  # datagrams read from one socket per turn, so no socket starves the others
# Our other addresses, announced to each MOBIKE client, are asked of the kernel (an address
# dump) at most this often per contacted address, not once per client: a burst of connects
# is answered from one dump.
OTHER_ADDRESSES_REUSED_FOR = 10.0


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


class Daemon:
    def __init__(
        self,
        config: ServerConfig,
        *,
        datapath: Datapath,
        load_config: Callable[[], ServerConfig] | None = None,
        log: Logger | None = None,
        rng: Callable[[int], bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        save_keys: str | None = None,
    ) -> None:
        self.save_keys = save_keys  # a directory: IKE/ESP keys written for Wireshark
        self.datapath = datapath
        self.log = log = log or Logger(config.log_level)
        self._clock, self._wall = clock, wall_clock
        self._now = clock()  # the clock as read at the start of this turn (run_once)
        self.responder = self._new_responder(config, rng or RandomPool())
        self.actions = Actions(
            datapath, log, wall_clock, self._install_failed, _key_writer(save_keys)
        )
        counters = ClientCounters(datapath, self.actions.tunnels, log)
        self.traffic = TrafficPoll(counters, self.actions.clients, self.responder.note_traffic)
        self.report = StatusReport(self.actions, counters, wall_clock, save_keys)
        self.snapshots = SnapshotSchedule(config.state_dir, self.report, self.actions, clock, log)
        self.reloader = Reloader(
            config, load_config, responder=self.responder, datapath=datapath, log=log,
            clock=clock, wall_clock=wall_clock, settle=self._settle,
        )  # fmt: skip
        self.commands = ControlCommands(
            self.responder, self.actions, self.report, self.reloader, clock, self._settle
        )
        self.ike = IkeSockets(log)
        self.control: ControlServer | None = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._signals = False  # install_signal_handlers() ran: the wake-up fd is ours
        self._reload_wanted = False
        # contacted address -> (until when, our other addresses on its interface)
        self._other_addresses_seen: dict[str, tuple[float, list[str]]] = {}

    @property
    def config(self) -> ServerConfig:
        """The running configuration (the Reloader's)."""
        return self.reloader.config

    def _new_responder(self, config: ServerConfig, rng: Callable[[int], bytes]) -> Responder:
        # The responder passes (local, remote); the kernel's larval SA is remote -> local.
        def allocate_spi(local: str, remote: str) -> int:
            return self.datapath.allocate_spi(remote, local)

        return Responder(
            config,
            rng=rng,
            allocate_spi=allocate_spi,
            export_keys=self.save_keys is not None,
            credentials=load_credentials(config, self.log, self._wall()),
            wall_clock=self._wall,
            other_addresses=self._other_addresses,
            memory_bytes=router_memory(),
        )

    def _other_addresses(self, contacted: str) -> list[str]:
        """Our other addresses a MOBIKE client may move to: those of the interface it
        contacted that one of our IKE sockets receives on (as the kernel said at most
        OTHER_ADDRESSES_REUSED_FOR seconds ago)."""
        now = self._clock()
        seen = self._other_addresses_seen.get(contacted)
        if seen is not None and now < seen[0]:
            return list(seen[1])
        try:
            found = self.datapath.addresses_beside(contacted)
        except OSError as exc:
            self.log.debug(f"our other addresses are unknown: {exc}")
            return []
        others = [a for a in found if self.ike.listens_on(a)]
        self._other_addresses_seen[contacted] = (now + OTHER_ADDRESSES_REUSED_FOR, others)
        return list(others)

    # -- start and stop --------------------------------------------------------------------
    def start(self) -> None:
        """Remove stale kernel state, bind the IKE sockets and the control socket."""
        stale = self.datapath.flush_owned()
        if stale:
            self.log.info(f"removed {stale} kernel SAs/policies left by an earlier run")
        cfg = self.config
        block_pools(self.datapath, cfg, self.log)
        self.ike.open(cfg.listen, cfg.port, cfg.natt_port, self.datapath.prepare_ike_socket)
        for s in self.ike.sockets:
            self._selector.register(s.sock, selectors.EVENT_READ, lambda m, s=s: self._on_ike(s))
        fd = self.datapath.fileno()
        if fd is not None:
            self._selector.register(fd, selectors.EVENT_READ, lambda m: self._on_kernel())
        self._selector.register(self._wake_r, selectors.EVENT_READ, lambda m: self._on_wake())
        table = self.commands.table()
        self.control = ControlServer(cfg.control_socket, self._selector, table, self.log)
        self.report.started = self._wall()
        self.report.listen = self.ike.listen()
        self.snapshots.write()
        self.log.info(f"ikev2d started, listening on {', '.join(self.report.listen)}")
        limits = self.responder.limits
        self.log.debug(
            f"half-open IKE SAs: at most {limits.total} ({limits.per_ip} per address), "
            f"cookies from {limits.cookie_threshold} ({limits.cookie_threshold_per_ip} per address)"
        )
        if self.save_keys is not None:
            self.log.warning(SAVE_KEYS_WARNING.format(self.save_keys))

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
        self.snapshots.write(running=False)

    def close(self) -> None:
        if self._signals:
            # a SIGTERM after this (procd repeats it) must not write to the closed wake-up
            # socket, or to whatever file gets its number next
            signal.set_wakeup_fd(-1)
            self._signals = False
        if self.control is not None:
            self.control.close()
            self.control = None
        self.ike.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self.datapath.close()

    # -- one turn --------------------------------------------------------------------------
    def run_once(self, max_wait: float | None = None) -> None:
        ready = self._selector.select(self._timeout(max_wait))
        # One clock read per turn (a syscall where the clock has no vDSO, as on many MIPS
        # routers): the handlers below and the next turn's timeout use it. That timeout is
        # then long by this turn's work (milliseconds), which a timer can afford.
        now = self._now = self._clock()
        for key, mask in ready:
            key.data(mask)
        timer = self.responder.get_timer()
        if timer is not None and timer <= now:
            self.responder.handle_timer(now)
        self._pump()
        if self._reload_wanted:
            self._reload_wanted = False
            with contextlib.suppress(CommandError):  # already logged
                self.reloader.reload()
        if self.traffic.due is not None and now >= self.traffic.due:
            self.traffic.poll(now)
        if self.snapshots.due(now):
            self.snapshots.write(now)

    def _timeout(self, max_wait: float | None) -> float | None:
        if self._stopping or self._reload_wanted:
            return 0
        self.traffic.arm(self._turn_clock, self.config.dpd_delay)
        pending = (self.responder.get_timer(), self.snapshots.next_refresh, self.traffic.due)
        deadlines = [t for t in pending if t is not None]
        if not deadlines and max_wait is None:
            return None
        now = self._now
        if max_wait is not None:
            deadlines.append(now + max_wait)
        return max(min(deadlines) - now, 0)

    def _turn_clock(self) -> float:
        return self._now

    def _on_ike(self, s: IkeSocket) -> None:
        now = self._now  # for the whole burst: it is read in one go
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
            if s.device is not None:
                self.actions.arrived_on[remote[0]] = s.device  # for its route (kernel.routes)
            try:
                self.responder.receive_datagram(data, remote, local, now)
            except Exception as exc:  # a responder bug must not stop the server
                self.log.error(
                    f"internal error on a message from {address_text(remote)}: "
                    f"{type(exc).__name__}: {exc}"
                )

    def _on_kernel(self) -> None:
        from ikev2d.kernel.tunnel import EventsLost, SaExpired

        try:
            events = self.datapath.read_events()
        except OSError as exc:
            self.log.error(f"reading kernel events: {exc}")
            return
        now = self._now
        for event in events:
            if isinstance(event, SaExpired):  # soft = rekey now, hard = the kernel deleted it
                spi, kind = event.spi, "hard" if event.hard else "soft"
                self.log.info(f"kernel: Child SA {spi:08x} reached its {kind} lifetime")
                try:
                    self.responder.handle_kernel_expire(spi, event.hard, now)
                except Exception as exc:  # a responder bug must not stop the server
                    self.log.error(f"internal error on expire of {spi:08x}: {exc!r}")
            elif isinstance(event, EventsLost):
                self.log.warning(
                    "kernel: expire events were lost; the responder's own timers rekey"
                )
            else:
                self.log.debug(f"kernel: {type(event).__name__}")

    def _on_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(512):
                pass

    def _pump(self) -> None:
        """Apply every pending event, then send every pending datagram."""
        responder = self.responder
        while (event := responder.next_event()) is not None:
            self.actions.apply(event)
        self.actions.arrived_on.clear()
        for data, local, remote in responder.datagrams_to_send():
            self.ike.send(data, local, remote)

    def _settle(self) -> None:
        """After a command or reload ended clients: their Deletes out, the snapshot new."""
        self._pump()
        self.snapshots.write()

    def _install_failed(self, handle: int) -> None:
        for sa in self.responder.find(f"{handle:016x}"):
            self.responder.disconnect(sa, self._clock(), "the kernel refused its tunnel")


def _key_writer(save_keys: str | None):
    """The --save-keys writer (savekeys.KeyWriter), or None."""
    if save_keys is None:
        return None
    from .savekeys import KeyWriter

    return KeyWriter(save_keys)
