"""The one road-warrior world of the system tests, the whole-router tests and `make demo`.

    world = World.build(workdir, [Phone([Conn("home", phone_id(1))])], nat=False)
    world.use(MAIN_CONFIG)          # ikev2d running with this configuration (restarted on change)
    vip = world.connect("home")     # phone1 connects; its virtual IP
    world.reset()                   # every phone's IKE SAs gone
    world.teardown()                # or: with World.build(...) as world

The topology is testbed.topology's (phones, a nat box, the router, a LAN host; optionally
NAT and dual-stack). The router runs one server:
- Ikev2dServer (default): ikev2d started by the harness (`use`, `reload`);
- StrongswanServer: charon + swanctl as the responder, a control without our daemon;
- OpenWrtServer: OpenWrt's userland (testbed.routerns) with fw4, ikev2d installed by opkg and
  run by procd (needs a kernel with ESP and nftables' inet family: tests/wholerouter/run).
Each phone is charon + swanctl (this machine's strongSwan 5.9, or strongSwan 6 from its root)
with its connections loaded at build, or charon-cmd, started per test. Every charon uses
kernel-netlink: real kernel ESP. Process starts are slow in a VM: tests share a world per
module. Plain library code, no pytest.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .charon_cmd import CharonCmd
from .ikev2d import Ikev2d
from .netns import Netns, NetnsSet
from .openwrt_service import PSK as OWNER_PSK
from .openwrt_service import Packages, install_opkg
from .probes import client_xfrm
from .proc import run, wait_for
from .routerns import RouterNamespace
from .strongswan import KERNEL_NETLINK, Charon, strongswan6_root
from .swanctl import PSK, SERVER_ID, Conn, swanctl_conf
from .topology import LAN_NET, ROUTER_LAN, ROUTER_WAN, RoadWarrior, build_road_warrior

__all__ = [
    "FAST_RETRANSMIT",
    "MAIN_CONFIG",
    "SERVER_ESP",
    "SERVER_IKE",
    "Ikev2dServer",
    "OpenWrtServer",
    "Phone",
    "StrongswanServer",
    "World",
    "openwrt_conn",
    "openwrt_phone",
    "phone_id",
]

SERVER_IKE = [
    "aes256-sha256-modp2048",
    "aes256-sha256-ecp256",
    "aes256gcm16-prfsha384-curve25519",
    "chacha20poly1305-prfsha256-curve25519",
    "aes128-sha256-modp3072",
]
SERVER_ESP = ["aes256-sha256", "aes256gcm16", "chacha20poly1305"]

# Omada "Client-to-LAN": PSK, FQDN local ID, any remote ID, pool 10.10.10.0/24
MAIN_CONFIG: dict[str, object] = {
    "psk": PSK,
    "local_id_type": "fqdn",
    "local_id": SERVER_ID,
    "remote_id_type": "any",
    "pool": "10.10.10.0/24",
    "local_subnet": [LAN_NET],
    "ike_proposal": SERVER_IKE,
    "esp_proposal": SERVER_ESP,
}

# strongSwan resends after 1 s, 1.4 s, 2 s ...: packet-loss tests stay short
FAST_RETRANSMIT = "retransmit_timeout = 1.0\n  retransmit_base = 1.4\n  retransmit_tries = 6"
_VIRTUAL_IP = re.compile(r"installing new virtual IP (\d+\.\d+\.\d+\.\d+)")


def phone_id(index: int) -> str:
    return f"phone{index}@example.test"


@dataclass(frozen=True)
class Phone:
    """What one phone namespace runs: charon + swanctl with `conns` loaded at build (none:
    the caller writes and loads its swanctl.conf later), or charon-cmd (started per test,
    `hosts` bound over its /etc/hosts)."""

    conns: Sequence[Conn] = ()
    strongswan: int = 5  # 5: this machine's (5.9.8); 6: from the Debian 13 root (ML-KEM)
    fast_retransmit: bool = False
    plugins: str = KERNEL_NETLINK
    charon_cmd: bool = False
    hosts: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float = 15.0

    def launch(self, ns: Netns, workdir: pathlib.Path, netns: NetnsSet) -> Charon | CharonCmd:
        """The phone's client, started without waiting (the phones start side by side)."""
        if self.charon_cmd:
            return CharonCmd(ns, workdir, netns, hosts=self.hosts)
        root = strongswan6_root() if self.strongswan == 6 else None
        extra = FAST_RETRANSMIT if self.fast_retransmit else ""
        charon = Charon(ns, workdir, netns, plugins=self.plugins, extra_conf=extra, root=root)
        charon.write_swanctl_conf(swanctl_conf(self.conns))
        charon.launch()
        return charon

    def load(self, client: Charon | CharonCmd) -> None:
        if isinstance(client, Charon):
            client.wait_ready(self.start_timeout)
            if self.conns:
                client.load_all()


class Server(Protocol):
    """What runs in the router namespace; see the module docstring."""

    router_devs: tuple[str, str]  # its WAN and LAN devices

    def open(self, world: World, workdir: pathlib.Path) -> Netns | None:
        """The router's namespace when the server brings its own (else the topology's)."""

    def start(self, world: World, workdir: pathlib.Path) -> None:
        """Start (or prepare) the server once the links exist; the phones are starting."""

    def finish(self, world: World) -> None:
        """Wait for what `start` began."""


@dataclass(frozen=True)
class Ikev2dServer:
    """ikev2d run by the harness (`World.use`, `World.reload`)."""

    router_devs: tuple[str, str] = ("wan0", "lan0")

    def open(self, world: World, workdir: pathlib.Path) -> Netns | None:
        return None

    def start(self, world: World, workdir: pathlib.Path) -> None:
        world.daemon = Ikev2d(world.topo.router, workdir / "ikev2d", world.netns)

    def finish(self, world: World) -> None:
        pass


@dataclass(frozen=True)
class StrongswanServer:
    """charon + swanctl with `conf` as the responder."""

    conf: str
    router_devs: tuple[str, str] = ("wan0", "lan0")

    def open(self, world: World, workdir: pathlib.Path) -> Netns | None:
        return None

    def start(self, world: World, workdir: pathlib.Path) -> None:
        world.responder = Charon(world.topo.router, workdir / "router", world.netns)
        world.responder.write_swanctl_conf(self.conf)
        world.responder.launch()

    def finish(self, world: World) -> None:
        world.responder.wait_ready()
        world.responder.load_all()


@dataclass(frozen=True)
class OpenWrtServer:
    """OpenWrt's userland from `tree` booted (syslogd, ubusd, procd, rpcd), its network on
    the topology's links, fw4's ruleset loaded, both packages installed live by opkg (the
    service enabled, not yet running: the shipped configuration is off until a key is set).
    `luci` adds LuCI's runtime (luci-base, theme) as a layer of the root."""

    tree: pathlib.Path
    packages: Packages
    luci: bool = False
    router_devs: tuple[str, str] = ("wan", "br-lan")

    def open(self, world: World, workdir: pathlib.Path) -> Netns | None:
        layers = [self.tree / "luci-root"] if self.luci else []
        world.openwrt = RouterNamespace(workdir / "router", self.tree, layers=layers)
        world.openwrt.start()
        # a name for its network namespace (removed with the others)
        ns = Netns(f"{world.netns.prefix}-rtr")
        run(["ip", "netns", "attach", ns.name, str(world.openwrt.pid)])
        world.netns.namespaces["rtr"] = ns
        return ns

    def start(self, world: World, workdir: pathlib.Path) -> None:
        router = world.openwrt
        router.boot()
        router.network(lan=f"{ROUTER_LAN}/24", wan=f"{ROUTER_WAN}/24", wired=True)
        router.run(["/etc/init.d/firewall", "enable"])
        router.run(["/etc/init.d/firewall", "start"], timeout=120)
        install_opkg(router, self.packages)

    def finish(self, world: World) -> None:
        pass


# what a PSK phone needs under qemu's TCG, where each plugin costs start-up time
_LEAN_PLUGINS = "random nonce openssl kdf kernel-netlink socket-default vici"


def openwrt_phone(conns: Sequence[Conn]) -> Phone:
    """A PSK phone for the OpenWrt router (under qemu: few plugins, time to start)."""
    return Phone(conns, plugins=_LEAN_PLUGINS, start_timeout=60)


def openwrt_conn(
    name: str, identity: str, *, secret: str = OWNER_PSK, local_addrs: str | None = None
) -> Conn:
    """A connection to the OpenWrt router as Android's built-in client makes it: the key the
    owner typed (testbed.openwrt_service.enable), the router's WAN address as its identity."""
    return Conn(name, identity, secret=secret, remote_id=ROUTER_WAN, local_addrs=local_addrs)


@dataclass
class World:
    """The topology, the server in the router and one client per phone (see above)."""

    netns: NetnsSet
    topo: RoadWarrior = field(init=False)
    phones: list[Charon | CharonCmd] = field(default_factory=list)
    daemon: Ikev2d | None = None  # Ikev2dServer
    responder: Charon | None = None  # StrongswanServer
    openwrt: RouterNamespace | None = None  # OpenWrtServer
    config: dict | None = None  # the configuration the daemon runs with (None: restart)

    @classmethod
    def build(
        cls,
        workdir: pathlib.Path,
        phones: Sequence[Phone],
        *,
        nat: bool = False,
        ipv6: bool = False,
        server: Server = Ikev2dServer(),
    ) -> World:
        """`phones[i]` is phone i+1. Everything is started and waited for, except ikev2d
        (`use`, `reload`) and charon-cmd phones."""
        workdir = pathlib.Path(workdir)
        world = cls(NetnsSet())
        try:
            router = server.open(world, workdir)
            world.topo = build_road_warrior(
                world.netns, phones=len(phones), nat=nat, ipv6=ipv6, router=router,
                router_devs=server.router_devs,
            )  # fmt: skip
            world.phones = [
                spec.launch(ns, workdir / f"phone{i}", world.netns)
                for i, (spec, ns) in enumerate(zip(phones, world.topo.phones, strict=True), 1)
            ]
            server.start(world, workdir)
            for spec, client in zip(phones, world.phones, strict=True):
                spec.load(client)
            server.finish(world)
        except BaseException:
            world.teardown()
            raise
        return world

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def teardown(self) -> None:
        for client in self.phones:
            if isinstance(client, CharonCmd):
                client.stop()
        if self.daemon is not None:
            self.daemon.cleanup()
        if self.openwrt is not None:
            self.openwrt.close()
        self.netns.teardown()

    # --- the daemon (Ikev2dServer)
    def use(self, config: Mapping[str, object]) -> Ikev2d:
        """Have the daemon running with `config` (restarted only if it differs). `config` may
        carry `users` (the [[user]] tables) besides the server options."""
        if self.config != config or not self.daemon.running:
            if self.daemon.running:
                self.daemon.stop()
            self.daemon.configure(**config)
            self.config = dict(config)
            self.daemon.start()
        return self.daemon

    def reload(self, config: Mapping[str, object]) -> Ikev2d:
        """Have the running daemon take `config` by `ikev2ctl reload` (no restart)."""
        if not self.daemon.running or self.config is None:
            return self.use(config)
        if self.config != config:
            self.daemon.configure(**config)
            self.daemon.ctl("reload")
            self.config = dict(config)
        return self.daemon

    def clients(self) -> list[dict]:
        return self.daemon.status()["clients"]

    def router_xfrm(self) -> str:
        """The router's XFRM state and policies of clients: "" when clean."""
        return client_xfrm(self.topo.router)

    def assert_router_clean(self, timeout: float = 5.0) -> None:
        """No client in the daemon, and no XFRM state or policy of one left in the router."""
        self.wait_for(lambda: not self.clients(), timeout, "daemon has no client")
        wait_for(lambda: not self.router_xfrm(), timeout, "router XFRM state/policy empty",
                 lambda: self.router_xfrm() + "\n" + self.logs())  # fmt: skip

    # --- the phones
    def connect(self, conn: str, phone: int = 1, timeout: float = 20.0) -> str:
        """Phone `phone` (1-based) brings `conn` up; its virtual IPv4 address."""
        out = self.phones[phone - 1].initiate(conn, timeout=timeout)
        vip = _VIRTUAL_IP.search(out)
        if not (re.search(rf"CHILD_SA {re.escape(conn)}\{{\d+\}} established", out) and vip):
            raise AssertionError(f"phone{phone} did not connect {conn}:\n{out}\n{self.logs()}")
        return vip.group(1)

    def reset(self) -> None:
        """Back to no client: every phone's IKE SAs terminated (forced, no waiting),
        charon-cmd stopped."""
        for client in self.phones:
            if isinstance(client, CharonCmd):
                client.stop()
                continue
            for ike_id in re.findall(r"^\S+: #(\d+),", client.list_sas(), flags=re.MULTILINE):
                client.swanctl("--terminate", "--ike-id", ike_id, "--force", check=False)

    # --- failure messages
    def wait_for(self, predicate, timeout: float, what: str):
        """Poll `predicate` (bounded); on timeout fail with `what` and every log."""
        return wait_for(predicate, timeout, what, self.logs)

    def logs(self) -> str:
        """Every log of the world, for failure messages."""
        parts = []
        if self.daemon is not None:
            parts.append(f"--- ikev2d.log ---\n{self.daemon.log_tail(80)}")
        if self.responder is not None:
            parts.append(f"--- charon.log router ---\n{self.responder.log_tail(40)}")
        if self.openwrt is not None:
            parts.append(self._openwrt_logs())
        for i, client in enumerate(self.phones, 1):
            kind = "charon-cmd" if isinstance(client, CharonCmd) else "charon.log"
            parts.append(f"--- {kind} phone{i} ---\n{client.log_tail(40)}")
        return "\n".join(parts)

    def _openwrt_logs(self) -> str:
        router = self.openwrt
        parts = [f"--- router syslog ---\n{router.log_text()[-8000:]}"]
        for name in ("procd", "rpcd", "uhttpd"):
            path = f"/tmp/{name}.log"
            if router.exists(path):
                parts.append(f"--- {path} ---\n{router.read(path)[-3000:]}")
        return "\n".join(parts)
