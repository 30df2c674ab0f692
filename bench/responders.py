"""The two responders under test, run the same way in the router namespace.

    r = IkeResponder(ns, workdir, netns_set) | SwanResponder(ns, workdir, netns_set)
    r.start(proposal, pool)      # PSK, CP pool, one Child SA (aes256-sha256), DoS limits raised
    r.pid                        # the process whose CPU and memory are measured
    r.established()              # IKE SAs the responder holds now
    r.stop()

Both: PSK for any client identity, server identity vpn.example.test, virtual IPs from `pool`,
local traffic selector LAN_NET, DPD off (strongSwan's default), cookies and half-open limits
raised so that both are compared on handshake work, not on DoS defences.
"""

from __future__ import annotations

import os
import pathlib
import time

from testbed.ikev2d import Ikev2d
from testbed.netns import Netns, NetnsSet
from testbed.proc import wait_until
from testbed.strongswan import KERNEL_NETLINK, Charon
from testbed.topology import LAN_NET, ROUTER_WAN

from .loadgen import INITIATOR_THREADS_EXTRA, session

__all__ = [
    "ESP",
    "PSK",
    "SERVER_ID",
    "IkeResponder",
    "SwanResponder",
    "charon_conf",
    "cpu_seconds",
    "flush_xfrm",
    "generator",
    "rss_kb",
    "spawn_daemon",
    "started_with",
]

PSK = "Bq7-Kx2v-Nw8r-Tz4m-Hc9p"  # only inside namespaces this bench creates
SERVER_ID = "vpn.example.test"
ESP = "aes256-sha256"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
# ikev2d from any venv's interpreter (the launcher /usr/sbin/ikev2d runs the same)
_DAEMON_CODE = "import sys; from ikev2d.cli import daemon_main; sys.exit(daemon_main())"


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` from /proc/PID/stat."""
    text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def charon_conf(charon: Charon, *, threads: int, extra: str = "", log_default: int = 0) -> None:
    """Overwrite the harness' strongswan.conf: our thread count and a quiet log (level 0:
    the "established" audit lines, as ikev2d's info level)."""
    charon.conf_path.write_text(
        f"""charon {{
  load_modular = no
  load = {KERNEL_NETLINK}
  threads = {threads}
  {extra}
  filelog {{
    log {{
      path = {charon.seen(charon.log_path)}
      time_format = %T
      default = {log_default}
      flush_line = yes
      append = no
    }}
  }}
  plugins {{
    vici {{
      socket = {charon.uri}
    }}
  }}
}}
"""
    )


def spawn_daemon(daemon: Ikev2d, python: pathlib.Path | str, **env: str) -> None:
    """Start `daemon` (configured) with the interpreter `python` (not waiting for it)."""
    daemon.control_socket.unlink(missing_ok=True)
    argv = [str(python), "-c", _DAEMON_CODE, "--config", str(daemon.config_path)]
    environ = dict(os.environ, PYTHONUNBUFFERED="1", **env)
    if "PYTHONPYCACHEPREFIX" in env:  # to see what Python writes (make test/bench forbid it)
        environ.pop("PYTHONDONTWRITEBYTECODE", None)
    daemon.proc = daemon.netns_set.spawn(daemon.ns, argv, log_path=str(daemon.log_path),
                                         env=environ)  # fmt: skip


def started_with(python: pathlib.Path | str, **env: str):
    """An IkeResponder `argv_wrap`: the daemon runs on `python` with `env` added."""

    def start(daemon: Ikev2d) -> None:
        spawn_daemon(daemon, python, **env)
        daemon.wait_ready(60)

    return start


def generator(
    topo, workdir: pathlib.Path, concurrency: int, *, vip: bool, root: pathlib.Path | None = None
) -> Charon:
    """The load generator: a strongSwan charon initiator in the phone's namespace."""
    gen = Charon(topo.phone, workdir, topo.netns, max_runtime=1200, root=root)
    # the generator neither adds 1000 addresses nor routes for the load runs (its CPU is
    # shared with the responder under test); the throughput run needs both
    flags = "yes" if vip else "no"
    charon_conf(
        gen,
        threads=concurrency + INITIATOR_THREADS_EXTRA,
        extra=f"install_virtual_ip = {flags}\n  install_routes = {flags}\n"
        "  ikesa_table_size = 1024\n  ikesa_table_segments = 16",
    )
    gen.start(timeout=60)
    return gen


def flush_xfrm(topo) -> None:
    """A daemon killed after its grace time may leave SAs and policies: the next run starts
    from an empty kernel state in both namespaces."""
    for ns in (topo.router, topo.phone):
        ns.batch(["xfrm state flush", "xfrm policy flush"], timeout=60)


class IkeResponder:
    name = "ikev2d"

    def __init__(self, ns: Netns, workdir: pathlib.Path, netns_set: NetnsSet, argv_wrap=None):
        self.daemon = Ikev2d(ns, workdir, netns_set)
        self.argv_wrap = argv_wrap  # e.g. run under cProfile

    def start(self, proposal: str, pool: str) -> None:
        self.daemon.configure(
            psk=PSK,
            local_id_type="fqdn",
            local_id=SERVER_ID,
            remote_id_type="any",
            pool=pool,
            local_subnet=[LAN_NET],
            ike_proposal=[proposal],
            esp_proposal=[ESP],
            dpd_delay=0,
            cookie_threshold=100000,
            cookie_threshold_per_ip=1000000,
            max_half_open=1000000,
            max_half_open_per_ip=1000000,
            log_level="info",
        )
        if self.argv_wrap is None:
            self.daemon.start(timeout=60)
        else:
            self.argv_wrap(self.daemon)

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def established(self) -> int:
        return len(self.daemon.request("status", timeout=120)["clients"])

    def stop(self) -> None:
        """Under a profiler: SIGTERM and wait (the profile is written at exit). Otherwise
        SIGTERM, SIGKILL after 2 s (deleting 1000 SAs is not measured); the caller flushes
        the kernel state either way."""
        try:
            if self.argv_wrap is not None:
                self.daemon.stop(timeout=120)
        finally:
            self.daemon.kill()


class SwanResponder:
    name = "strongswan"

    def __init__(self, ns: Netns, workdir: pathlib.Path, netns_set: NetnsSet):
        self.charon = Charon(ns, workdir, netns_set, max_runtime=1200)
        # DoS limits raised (defaults: cookie_threshold 30, cookie_threshold_ip 3,
        # block_threshold 5); hash table sized for 1000 SAs (default 1 bucket)
        charon_conf(
            self.charon,
            threads=16,
            extra="cookie_threshold = 100000\n  cookie_threshold_ip = 100000\n"
            "  block_threshold = 100000\n  init_limit_half_open = 0\n"
            "  ikesa_table_size = 1024\n  ikesa_table_segments = 16",
        )

    def start(self, proposal: str, pool: str) -> None:
        self.charon.start(timeout=60)
        s = session(str(self.charon.vici_path))
        try:
            s.load_shared({"id": "rw-psk", "type": "IKE", "data": PSK, "owners": []})
            s.load_pool({"rw_pool": {"addrs": pool}})
            s.load_conn({"rw": {
                "version": "2", "local_addrs": [ROUTER_WAN], "proposals": [proposal],
                "pools": ["rw_pool"], "send_certreq": "no", "unique": "never",
                "local-1": {"auth": "psk", "id": SERVER_ID}, "remote-1": {"auth": "psk"},
                "children": {"rw": {"local_ts": [LAN_NET], "esp_proposals": [ESP]}},
            }})  # fmt: skip
        finally:
            s.transport.socket.close()

    @property
    def pid(self) -> int:
        path = self.charon.workdir / "run" / "charon.pid"
        return int(wait_until(lambda: path.exists() and path.read_text().strip(), 10))

    def established(self) -> int:
        s = session(str(self.charon.vici_path))
        try:
            return int(s.stats()["ikesas"]["total"])
        finally:
            s.transport.socket.close()

    def stop(self) -> None:
        self.charon.stop()
        time.sleep(0.1)
