"""The road-warrior topology of the system tests.

    phone1 192.0.2.2 ─┐
    phone2 192.0.2.3 ─┤ bridge br0 192.0.2.1 [nat] 198.51.100.2 ── 198.51.100.1 [router]
    ...              ─┘   (MASQUERADE when nat=True,                  192.168.1.1
                           plain routing otherwise)                       │
                                                                 192.168.1.2 [lan]

Device names: phoneN has `wan0`; nat has `br0` (phone ports `pN`) and `out0`; router has
`wan0` and `lan0`; lan has `eth0`. Phones and the LAN host route everything via their box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .netns import Netns, NetnsSet
from .proc import CommandFailed, run, wait_until

__all__ = ["LAN_HOST", "PHONE_NET", "ROUTER_LAN", "ROUTER_WAN", "RoadWarrior", "build_road_warrior"]

PHONE_NET = "192.0.2.0/24"
NAT_INSIDE = "192.0.2.1"
NAT_OUTSIDE = "198.51.100.2"
ROUTER_WAN = "198.51.100.1"
ROUTER_LAN = "192.168.1.1"
LAN_HOST = "192.168.1.2"
LAN_NET = "192.168.1.0/24"


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


def build_road_warrior(netns: NetnsSet, *, phones: int = 1, nat: bool = False) -> RoadWarrior:
    """Create the namespaces and links above inside `netns` (which tears them down)."""
    nat_box, router, lan = netns.add("nat"), netns.add("rtr"), netns.add("lan")
    netns.bridge(nat_box, "br0")
    nat_box.addr_add("br0", f"{NAT_INSIDE}/24")
    phone_list, addrs = [], []
    for i in range(1, phones + 1):
        phone = netns.add(f"ph{i}")
        addr = f"192.0.2.{i + 1}"
        netns.veth(phone, "wan0", nat_box, f"p{i}")
        nat_box.ip("link", "set", f"p{i}", "master", "br0")
        phone.addr_add("wan0", f"{addr}/24")
        phone.route_add("default", via=NAT_INSIDE)
        phone_list.append(phone)
        addrs.append(addr)
    netns.veth(nat_box, "out0", router, "wan0")
    nat_box.addr_add("out0", f"{NAT_OUTSIDE}/24")
    router.addr_add("wan0", f"{ROUTER_WAN}/24")
    netns.veth(router, "lan0", lan, "eth0")
    router.addr_add("lan0", f"{ROUTER_LAN}/24")
    lan.addr_add("eth0", f"{LAN_HOST}/24")
    lan.route_add("default", via=ROUTER_LAN)
    nat_box.route_add("default", via=ROUTER_WAN)
    for box in (nat_box, router):
        box.sysctl("net.ipv4.ip_forward", "1")
    if nat:
        _masquerade(nat_box, "out0")
    else:
        router.route_add(PHONE_NET, via=NAT_OUTSIDE)
    topo = RoadWarrior(netns, phone_list, nat_box, router, lan, nat, addrs)
    # the bridge needs a moment before it forwards; bounded
    wait_until(
        lambda: topo.phone.ping(ROUTER_WAN, wait=0.5, check=False).returncode == 0,
        10, interval=0.05, what="phone -> router connectivity",
    )  # fmt: skip
    return topo


def _masquerade(ns: Netns, out_dev: str) -> None:
    """Source NAT out of out_dev: nft where the kernel has ip-family nftables (not in
    user-mode-linux), else iptables-legacy (x_tables NAT, present in user-mode-linux)."""
    nft = (
        "table ip nat { chain post { type nat hook postrouting priority srcnat; "
        f'oifname "{out_dev}" masquerade; }} }}'
    )
    if run(ns.cmd(["nft", nft]), check=False).returncode == 0:
        return
    try:
        ns.run(["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-o", out_dev,
                "-j", "MASQUERADE"])  # fmt: skip
    except CommandFailed as exc:
        raise CommandFailed(f"neither nft nor iptables-legacy can masquerade: {exc}") from exc
