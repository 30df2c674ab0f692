"""The road-warrior topology of the system tests.

    phone1 192.0.2.2 ─┐
    phone2 192.0.2.3 ─┤ bridge br0 192.0.2.1 [nat] 198.51.100.2 ── 198.51.100.1 [router]
    ...              ─┘   (MASQUERADE when nat=True,                  192.168.1.1
                           plain routing otherwise)                       │
                                                                 192.168.1.2 [lan]

Device names: phoneN has `wan0`; nat has `br0` (phone ports `pN`) and `out0`; router has
`wan0` and `lan0` (other names with `router_devs`); lan has `eth0`. Phones and the LAN host
route everything via their box; the router's default route leads upstream to the nat box (the
way back to the clients' pool addresses, which its XFRM policies then divert into the tunnel).
The router namespace is made here, or given (`router`: an OpenWrt router's, see testbed.world).

With ``ipv6=True`` every link is dual-stack: phones 2001:db8:2::N+1, the nat box (an IPv6
router, no NAT66) 2001:db8:2::1 and 2001:db8:1::2, the router 2001:db8:1::1 on the WAN and
fd00:1::1 on the LAN (a ULA /64), the LAN host fd00:1::2. Addresses skip duplicate address
detection, so they work at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .netns import Netns, NetnsSet
from .proc import CommandFailed, wait_until

__all__ = [
    "LAN_HOST",
    "LAN_HOST6",
    "LAN_NET",
    "LAN_NET6",
    "NAT_INSIDE",
    "NAT_OUTSIDE",
    "PHONE_NET",
    "ROUTER_LAN",
    "ROUTER_WAN",
    "ROUTER_WAN6",
    "RoadWarrior",
    "build_road_warrior",
    "phone_addr",
    "phone_addr6",
]

PHONE_NET = "192.0.2.0/24"
NAT_INSIDE = "192.0.2.1"
NAT_OUTSIDE = "198.51.100.2"
ROUTER_WAN = "198.51.100.1"
ROUTER_LAN = "192.168.1.1"
LAN_HOST = "192.168.1.2"
LAN_NET = "192.168.1.0/24"
PHONE_NET6 = "2001:db8:2::/64"
NAT_INSIDE6 = "2001:db8:2::1"
NAT_OUTSIDE6 = "2001:db8:1::2"
ROUTER_WAN6 = "2001:db8:1::1"
ROUTER_LAN6 = "fd00:1::1"
LAN_HOST6 = "fd00:1::2"
LAN_NET6 = "fd00:1::/64"


def phone_addr(index: int) -> str:
    """The IPv4 address of phone `index` (1-based)."""
    return f"192.0.2.{index + 1}"


def phone_addr6(index: int) -> str:
    """The IPv6 address of phone `index` (1-based) with ipv6=True."""
    return f"2001:db8:2::{index + 1}"


@dataclass
class RoadWarrior:
    netns: NetnsSet
    phones: list[Netns]
    nat_box: Netns
    router: Netns
    lan: Netns
    nat: bool
    phone_addrs: list[str] = field(default_factory=list)

    @property
    def phone(self) -> Netns:
        return self.phones[0]


def build_road_warrior(
    netns: NetnsSet,
    *,
    phones: int = 1,
    nat: bool = False,
    ipv6: bool = False,
    router: Netns | None = None,
    router_devs: tuple[str, str] = ("wan0", "lan0"),
) -> RoadWarrior:
    """Create the namespaces and links above inside `netns` (which tears them down); the
    router's namespace too unless given, its WAN and LAN devices named `router_devs`.

    Batched: one `ip` process per namespace, since process starts dominate under UML."""
    phone_names = [f"ph{i}" for i in range(1, phones + 1)]
    made = netns.add_many("nat", "lan", *phone_names, *([] if router else ["rtr"]))
    nat_box, lan, *phone_list = made[: 2 + phones]
    router = router or made[-1]
    wan, lan_dev = router_devs
    addrs = [phone_addr(i) for i in range(1, phones + 1)]
    netns.veths(
        [(phone, "wan0", nat_box, f"p{i}") for i, phone in enumerate(phone_list, 1)]
        + [(nat_box, "out0", router, wan), (router, lan_dev, lan, "eth0")]
    )
    nat_lines = ["link set lo up", "link add br0 type bridge forward_delay 0",
                 f"addr add {NAT_INSIDE}/24 dev br0", "link set br0 up",
                 f"addr add {NAT_OUTSIDE}/24 dev out0", "link set out0 up",
                 f"route add default via {ROUTER_WAN}"]  # fmt: skip
    for i in range(1, phones + 1):
        nat_lines += [f"link set p{i} master br0", f"link set p{i} up"]
    nat_box.batch(nat_lines)
    router_lines = ["link set lo up", f"addr add {ROUTER_WAN}/24 dev {wan}", f"link set {wan} up",
                    f"addr add {ROUTER_LAN}/24 dev {lan_dev}", f"link set {lan_dev} up",
                    f"route add default via {NAT_OUTSIDE}"]  # fmt: skip
    if not nat:
        router_lines.append(f"route add {PHONE_NET} via {NAT_OUTSIDE}")
    router.batch(router_lines)
    lan.batch(["link set lo up", f"addr add {LAN_HOST}/24 dev eth0", "link set eth0 up",
               f"route add default via {ROUTER_LAN}"])  # fmt: skip
    for phone, addr in zip(phone_list, addrs, strict=True):
        phone.batch(["link set lo up", f"addr add {addr}/24 dev wan0", "link set wan0 up",
                     f"route add default via {NAT_INSIDE}"])  # fmt: skip
    if ipv6:
        _add_ipv6(nat_box, router, lan, phone_list, router_devs)
    _enable_forwarding(router, ipv6=ipv6)
    _enable_forwarding(nat_box, masquerade_dev="out0" if nat else None, ipv6=ipv6)
    topo = RoadWarrior(netns, phone_list, nat_box, router, lan, nat, addrs)
    # the bridge needs a moment before it forwards; bounded
    wait_until(
        lambda: topo.phone.ping(ROUTER_WAN, wait=0.5, check=False).returncode == 0,
        10, interval=0.05, what="phone -> router connectivity",
    )  # fmt: skip
    return topo


def _add_ipv6(
    nat_box: Netns, router: Netns, lan: Netns, phones: list[Netns], router_devs: tuple[str, str]
) -> None:
    nat_box.batch([f"addr add {NAT_INSIDE6}/64 dev br0 nodad",
                   f"addr add {NAT_OUTSIDE6}/64 dev out0 nodad",
                   f"route add default via {ROUTER_WAN6}"])  # fmt: skip
    router.batch([f"addr add {ROUTER_WAN6}/64 dev {router_devs[0]} nodad",
                  f"addr add {ROUTER_LAN6}/64 dev {router_devs[1]} nodad",
                  f"route add {PHONE_NET6} via {NAT_OUTSIDE6}"])  # fmt: skip
    lan.batch([f"addr add {LAN_HOST6}/64 dev eth0 nodad",
               f"route add default via {ROUTER_LAN6}"])  # fmt: skip
    for i, phone in enumerate(phones, 1):
        phone.batch([f"addr add {phone_addr6(i)}/64 dev wan0 nodad",
                     f"route add default via {NAT_INSIDE6}"])  # fmt: skip


def _enable_forwarding(ns: Netns, masquerade_dev: str | None = None, ipv6: bool = False) -> None:
    # /proc/sys/net is per network namespace: write it from inside (one process, no sysctl)
    script = "echo 1 > /proc/sys/net/ipv4/ip_forward"
    if ipv6:
        script += "; echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"
    ns.run(["sh", "-c", script])
    if masquerade_dev:
        _masquerade(ns, masquerade_dev)


def _masquerade(ns: Netns, out_dev: str) -> None:
    """Source NAT out of out_dev. iptables-legacy (x_tables NAT) works both in
    user-mode-linux (whose nftables lacks the ip/inet families) and on this host;
    nft is the fallback for kernels without legacy x_tables."""
    legacy = ["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-o", out_dev, "-j",
              "MASQUERADE"]  # fmt: skip
    if ns.run(legacy, check=False).returncode == 0:
        return
    ruleset = (
        "table ip nat {\n chain post {\n  type nat hook postrouting priority srcnat;\n"
        f'  oifname "{out_dev}" masquerade\n }}\n}}\n'
    )
    try:
        ns.run(["nft", "-f", "-"], input=ruleset)
    except CommandFailed as exc:
        raise CommandFailed(f"neither iptables-legacy nor nft can masquerade: {exc}") from exc
