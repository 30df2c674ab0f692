"""The whole router in one kernel: OpenWrt's userland, fw4, ikev2d under procd, a phone, a LAN.

    phone 198.51.100.2 ── 198.51.100.1 [isp] 203.0.113.1 ── wan 203.0.113.2 [router] br-lan
                                                                    192.168.1.1 │
                                                                     192.168.1.2 [lan]

The router is a RouterNamespace (tests/harness/routerns.py: ubusd, procd -S, rpcd, syslog, fw4
with its real ruleset) whose `wan` and `br-lan` links lead to an ISP box and a LAN host; the
phone is Debian's strongSwan (kernel-netlink: real kernel ESP) on the internet side of the ISP
box. ikev2d and luci-app-ikev2d are installed by opkg and run by procd. Everything needs a
kernel with both ESP and nftables' inet family: tests/wholerouter/run boots one (qemu).
Plain library code, no pytest.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

from harness import Netns, NetnsSet, run
from harness.routerns import RouterNamespace
from harness.strongswan import Charon
from router.ikev2d_router import PSK, Packages, install_opkg

__all__ = [
    "LAN_HOST",
    "PHONE",
    "PHONE_MOVED",
    "PSK",
    "ROUTER_WAN",
    "PhoneConn",
    "RouterWorld",
    "phone_conf",
]

ROUTER_WAN = "203.0.113.2"
ISP_ROUTER_SIDE = "203.0.113.1"
ISP_PHONE_SIDE = "198.51.100.1"
PHONE = "198.51.100.2"
PHONE_MOVED = "198.51.100.3"  # the phone's second address, as after moving to another network
ROUTER_LAN = "192.168.1.1"
LAN_HOST = "192.168.1.2"
LAN_NET = "192.168.1.0/24"
POOL = "10.10.10.0/24"
# what a PSK phone needs under TCG, where each plugin costs start-up time
PHONE_PLUGINS = "random nonce openssl kdf kernel-netlink socket-default vici"


@dataclass(frozen=True)
class PhoneConn:
    """One swanctl connection of the phone (and its CHILD_SA of the same name)."""

    identity: str  # as swanctl.conf takes it ("@#hex" is a key-id of any bytes)
    local_addr: str | None = None  # pinned to one of the phone's addresses
    secret: str = PSK


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def phone_conf(conns: dict[str, PhoneConn]) -> str:
    """swanctl.conf of the phone: its connections to the router, each expecting the router's
    address as its identity (as Android's built-in client does). Each secret is bound to the
    identities that use it: an unbound one would compete with the bound ones."""
    blocks, owners = [], {}
    for name, conn in conns.items():
        owners.setdefault(conn.secret, []).append(conn.identity)
        local = f"local_addrs = {conn.local_addr}" if conn.local_addr else ""
        blocks.append(f"""  {name} {{
    version = 2
    remote_addrs = {ROUTER_WAN}
    {local}
    vips = 0.0.0.0
    proposals = aes256-sha256-modp2048
    local {{
      auth = psk
      id = {_quoted(conn.identity)}
    }}
    remote {{
      auth = psk
      id = {ROUTER_WAN}
    }}
    children {{
      {name} {{
        remote_ts = {LAN_NET}
        esp_proposals = aes256-sha256
      }}
    }}
  }}
""")
    secrets = []
    for n, (secret, identities) in enumerate(owners.items()):
        ids = "".join(f"    id-{i} = {_quoted(ident)}\n" for i, ident in enumerate(identities))
        secrets.append(f"  ike-{n} {{\n{ids}    secret = {_quoted(secret)}\n  }}\n")
    return f"connections {{\n{''.join(blocks)}}}\nsecrets {{\n{''.join(secrets)}}}\n"


@dataclass
class RouterWorld:
    """The topology above, the router booted with fw4 loaded and both packages installed."""

    router: RouterNamespace
    router_net: Netns  # the router's network namespace, by name (raw sockets, ip ...)
    netns: NetnsSet
    isp: Netns
    phone_ns: Netns
    lan: Netns
    phone: Charon

    @classmethod
    def build(
        cls,
        workdir: pathlib.Path,
        tree: pathlib.Path,
        packages: Packages,
        *,
        luci: bool = False,
        phone_conns: dict[str, PhoneConn] | None = None,
    ) -> RouterWorld:
        """Boot it all; `luci` adds LuCI's runtime (luci-base, theme) as a layer of the root.
        The phone's charon runs with phone_conf(phone_conns) loaded (default: one
        connection "home" as phone1@example.test)."""
        netns = NetnsSet()
        layers = [tree / "luci-root"] if luci else []
        router = RouterNamespace(workdir / "router", tree, layers=layers)
        try:
            isp, phone_ns, lan = netns.add_many("isp", "ph", "lan")
            router.start()
            router_net = _attach(netns, "rtr", router.pid)
            router.boot()
            router.network(lan=f"{ROUTER_LAN}/24", wan=f"{ROUTER_WAN}/24")
            _wire(router_net, netns, isp, phone_ns, lan)
            router.run(["/etc/init.d/firewall", "enable"])
            router.run(["/etc/init.d/firewall", "start"], timeout=120)
            phone = Charon(phone_ns, workdir / "phone", netns, plugins=PHONE_PLUGINS)
            conns = phone_conns or {"home": PhoneConn("phone1@example.test")}
            phone.write_swanctl_conf(phone_conf(conns))
            phone.launch()
            install_opkg(router, packages)
            phone.wait_ready(timeout=60)
            phone.load_all()
        except BaseException:
            router.close()
            netns.teardown()
            raise
        return cls(router, router_net, netns, isp, phone_ns, lan, phone)

    def close(self) -> None:
        self.router.close()
        self.netns.teardown()

    # --- the phone
    def connect(self, conn: str = "home") -> str:
        """The phone connects; returns its virtual IP."""
        out = self.phone.initiate(conn, timeout=60)
        vip = re.search(r"installing new virtual IP (\d+\.\d+\.\d+\.\d+)", out)
        if not (re.search(rf"CHILD_SA {conn}\{{\d+\}} established", out) and vip):
            raise AssertionError(f"the phone did not connect:\n{out}\n{self.logs()}")
        return vip.group(1)

    def logs(self) -> str:
        """Every log of the world, for failure messages."""
        parts = [f"--- router syslog ---\n{self.router.log_text()[-8000:]}"]
        for name in ("procd", "rpcd", "uhttpd"):
            path = f"/tmp/{name}.log"
            if self.router.exists(path):
                parts.append(f"--- {path} ---\n{self.router.read(path)[-3000:]}")
        parts.append(f"--- phone charon.log ---\n{self.phone.log_tail(60)}")
        return "\n".join(parts)


def _attach(netns: NetnsSet, short: str, pid: int) -> Netns:
    """A name for the network namespace of `pid` (`ip netns attach`), removed by `netns`."""
    ns = Netns(f"{netns.prefix}-{short}")
    run(["ip", "netns", "attach", ns.name, str(pid)])
    netns.namespaces[short] = ns
    return ns


def _wire(router_net: Netns, netns: NetnsSet, isp: Netns, phone: Netns, lan: Netns) -> None:
    """Move the far ends of the router's wan and br-lan links to the ISP box and the LAN host,
    give everyone addresses and routes."""
    router_net.batch([f"link set wan-p netns {isp.name}", f"link set br-lan-p netns {lan.name}"])
    netns.veths([(isp, "ph0", phone, "wan0")])
    isp.batch(["link set lo up", f"addr add {ISP_ROUTER_SIDE}/24 dev wan-p", "link set wan-p up",
               f"addr add {ISP_PHONE_SIDE}/24 dev ph0", "link set ph0 up"])  # fmt: skip
    phone.batch(["link set lo up", f"addr add {PHONE}/24 dev wan0",
                 f"addr add {PHONE_MOVED}/24 dev wan0", "link set wan0 up",
                 f"route add default via {ISP_PHONE_SIDE}"])  # fmt: skip
    lan.batch(["link set lo up", f"addr add {LAN_HOST}/24 dev br-lan-p", "link set br-lan-p up",
               f"route add default via {ROUTER_LAN}"])  # fmt: skip
    # the router's way back to the clients' pool addresses, which XFRM then diverts
    router_net.ip("route", "add", "default", "via", ISP_ROUTER_SIDE)
    for ns in (isp, router_net):
        ns.run(["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
