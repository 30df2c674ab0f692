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

The requests go over our own NETLINK_ROUTE socket (:mod:`ikev2d.kernel.netlink`, messages in
:mod:`ikev2d.kernel.rtnl`), not pyroute2's IPRoute, whose import alone costs ~25 MB.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
import time

from ikev2d.kernel import rtnl
from ikev2d.kernel.addresses import LocalAddresses
from ikev2d.kernel.errors import RouteError
from ikev2d.kernel.netlink import NETLINK_ROUTE, NLM_F_ACK, NetlinkSocket

__all__ = ["RTPROT_IKEV2D", "VirtualIpRoutes"]

RTPROT_IKEV2D = 0xC2
NLM_F_REPLACE, NLM_F_CREATE = 0x100, 0x400
# How long the router's address inside the protected subnets is reused without asking the
# kernel again: a burst of connecting clients costs one address dump, not one each, and a
# changed LAN address is seen within this time (or at once, when the kernel refuses it).
SOURCE_CACHE_SECONDS = 30.0


class VirtualIpRoutes:
    """Adds and removes the virtual-IP routes of the current network namespace."""

    def __init__(self) -> None:
        self._nl = NetlinkSocket(protocol=NETLINK_ROUTE, error=RouteError)
        self.addresses = LocalAddresses(self._nl)
        self._routes: dict[str, rtnl.Route] = {}  # virtual IP -> the route as added
        self._sources: dict[tuple, tuple[float, str | None]] = {}  # local_ts -> (until, src)

    def _cached_source_in(self, local_ts, family: int, *, fresh: bool = False) -> str | None:
        key = (family, *(str(n) for n in local_ts))
        now = time.monotonic()
        cached = self._sources.get(key)
        if fresh or cached is None or cached[0] <= now:
            source = self._source_in(local_ts, family)
            cached = self._sources[key] = (now + SOURCE_CACHE_SECONDS, source)
        return cached[1]

    def _source_in(self, local_ts, family: int) -> str | None:
        """Our first non-loopback address of `family` inside the protected subnets, if any."""
        nets = [ipaddress.ip_network(n) for n in local_ts]
        for _index, addr in self.addresses.dump(family):
            if not addr.is_loopback and any(addr in n for n in nets if n.prefixlen > 0):
                return str(addr)
        return None

    def _path_to(self, peer: str) -> rtnl.Route:
        seq = self._nl.next_seq()
        for mtype, buf, offset in self._nl.request(rtnl.get_route(seq, peer), seq, "GETROUTE"):
            if mtype == rtnl.RTM_NEWROUTE:
                return rtnl.decode_route(buf, offset)
        raise RouteError(errno.EHOSTUNREACH, f"no route to {peer}", "GETROUTE")

    def add(self, virtual_ip: str, peer: str, local_ts) -> rtnl.Route:
        """Route `virtual_ip`/32 the way packets to `peer` (its outer address) go."""
        path = self._path_to(peer)
        family = socket.AF_INET6 if ":" in virtual_ip else socket.AF_INET
        # An inner address of the other family than the outer one (an IPv6 client address
        # over IPv4, or the reverse) cannot name that next hop: the route only needs the
        # device, since the XFRM policy takes the packet before any neighbour lookup.
        gateway = path.gateway if path.family == family else None
        route = rtnl.Route(
            family, virtual_ip, 32 if family == socket.AF_INET else 128,
            protocol=RTPROT_IKEV2D,
            scope=rtnl.RT_SCOPE_UNIVERSE if gateway else rtnl.RT_SCOPE_LINK,
            oif=path.oif, gateway=gateway, prefsrc=self._cached_source_in(local_ts, family),
        )  # fmt: skip
        try:
            self._add(route)
        except RouteError as exc:
            if exc.errno != errno.EINVAL or route.prefsrc is None:
                raise
            # the cached source address may be gone (LAN address changed): ask again
            fresh = self._cached_source_in(local_ts, family, fresh=True)
            route = dataclasses.replace(route, prefsrc=fresh)
            self._add(route)
        self._routes[virtual_ip] = route
        return route

    def _add(self, route: rtnl.Route) -> None:
        seq = self._nl.next_seq()
        flags = rtnl.NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        self._nl.request(rtnl.encode_route(rtnl.RTM_NEWROUTE, flags, seq, route), seq, "NEWROUTE")

    def _delete(self, route: rtnl.Route) -> None:
        """Delete our route to route.dst; already gone (interface down, flushed) is fine."""
        match = rtnl.Route(route.family, route.dst, route.dst_len, table=route.table,
                           protocol=RTPROT_IKEV2D, scope=rtnl.RT_SCOPE_NOWHERE, type=0)  # fmt: skip
        seq = self._nl.next_seq()
        request = rtnl.encode_route(rtnl.RTM_DELROUTE, rtnl.NLM_F_REQUEST | NLM_F_ACK, seq, match)
        try:
            self._nl.request(request, seq, "DELROUTE")
        except RouteError as exc:
            if not exc.not_found:
                raise

    def remove(self, virtual_ip: str) -> None:
        route = self._routes.pop(virtual_ip, None)
        if route is not None:
            self._delete(route)

    def flush(self) -> int:
        """Remove every route carrying our protocol number (a crashed run's leftovers)."""
        found = []
        for family in (socket.AF_INET, socket.AF_INET6):
            seq = self._nl.next_seq()
            found += [
                route
                for mtype, buf, offset in self._nl.request(
                    rtnl.dump_routes(seq, family), seq, "GETROUTE"
                )
                if mtype == rtnl.RTM_NEWROUTE
                and (route := rtnl.decode_route(buf, offset)).protocol == RTPROT_IKEV2D
                and route.table == rtnl.RT_TABLE_MAIN
            ]
        for route in found:
            self._delete(route)
        self._routes.clear()
        return len(found)

    def close(self) -> None:
        self._nl.close()
