"""A /32 route to each client's virtual IP (strongSwan installs the same, in table 220).

Why a router VPN needs it: ESP tunnel mode takes packets to a client's virtual IP off the
normal path only *after* a route lookup succeeded (the XFRM output policy is applied to the
routed packet). Without a route to 10.10.10.x (a router with no default route, or while the
WAN's default route is down) replies from the LAN fail with "network unreachable". And the
router's own packets to a client would pick the WAN address as source, fall outside the
policy's selector (LAN subnet -> virtual IP) and leave unencrypted. So for every client:

    <virtual IP>/32 via <next hop towards the client's outer address> dev <that device>
                    src <our address inside the protected subnets> proto 0xc2

in the main table: the next hop makes it independent of a default route, `src` puts the
router's own traffic inside the selectors, and the protocol number (194, unused by iproute2's
rt_protos) marks the routes as ikev2d's so a restart can flush what a crash left behind.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["RTPROT_IKEV2D", "VirtualIpRoutes"]

RTPROT_IKEV2D = 0xC2


class VirtualIpRoutes:
    """Adds and removes the virtual-IP routes of the current network namespace."""

    def __init__(self) -> None:
        from pyroute2 import IPRoute  # lazy: only a real datapath needs it

        self._ipr = IPRoute()
        self._routes: dict[str, dict] = {}  # virtual IP -> the route as added

    def _source_in(self, local_ts) -> str | None:
        nets = [ipaddress.ip_network(n) for n in local_ts]
        for msg in self._ipr.get_addr(family=socket.AF_INET):
            addr = ipaddress.ip_address(msg.get_attr("IFA_ADDRESS"))
            if not addr.is_loopback and any(addr in n for n in nets if n.prefixlen > 0):
                return str(addr)
        return None

    def add(self, virtual_ip: str, peer: str, local_ts) -> dict:
        """Route `virtual_ip`/32 the way packets to `peer` (its outer address) go."""
        path = self._ipr.route("get", dst=peer)[0]
        route = {
            "dst": f"{virtual_ip}/32",
            "oif": path.get_attr("RTA_OIF"),
            "proto": RTPROT_IKEV2D,
        }
        gateway = path.get_attr("RTA_GATEWAY")
        if gateway:
            route["gateway"] = gateway
        src = self._source_in(local_ts)
        if src:
            route["prefsrc"] = src
        self._ipr.route("replace", **route)
        self._routes[virtual_ip] = route
        return route

    def remove(self, virtual_ip: str) -> None:
        route = self._routes.pop(virtual_ip, None)
        if route is None:
            return
        try:
            self._ipr.route("del", dst=route["dst"], proto=RTPROT_IKEV2D)
        except Exception as exc:  # NetlinkError: already gone (interface down, flushed)
            if getattr(exc, "code", None) not in (3, 2):  # ESRCH, ENOENT
                raise

    def flush(self) -> int:
        """Remove every route carrying our protocol number (a crashed run's leftovers)."""
        found = [
            r for r in self._ipr.get_routes(family=socket.AF_INET, table=254)
            if r["proto"] == RTPROT_IKEV2D
        ]  # fmt: skip
        for r in found:
            self._ipr.route("del", dst=f"{r.get_attr('RTA_DST')}/{r['dst_len']}",
                            proto=RTPROT_IKEV2D)  # fmt: skip
        self._routes.clear()
        return len(found)

    def close(self) -> None:
        self._ipr.close()
