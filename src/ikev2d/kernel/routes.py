"""Routes to the clients' virtual IPs: one for each address pool, a /32 for a client off it.

Why a router VPN needs them: ESP tunnel mode takes packets to a client's virtual IP off the
normal path only *after* a route lookup succeeded (the XFRM output policy is applied to the
routed packet). Without a route to 10.10.10.x (a router with no default route, or while the
WAN's default route is down) replies from the LAN fail with "network unreachable". And the
router's own packets to a client would pick the WAN address as source, fall outside the
policy's selector (LAN subnet -> virtual IP) and leave unencrypted. So:

    <pool>  dev <device towards the clients> scope link src <our address inside the protected
            subnets> proto 0xc2

in the main table. `src` puts the router's own traffic inside the selectors; the protocol
number (194, unused by iproute2's rt_protos) marks the routes as ikev2d's so a restart can
flush what a crash left behind. No gateway: the XFRM policy takes the packet before any
neighbour lookup, and an address of the pool that no client holds is dropped by the pool's
outbound block policy (kernel.xfrm_build.pool_block_specs), never sent on that link in clear.

One route per pool, not one per client: a connecting client costs one route lookup (towards
its outer address) instead of a lookup and an add. The device matters to reverse-path
filtering (the decapsulated packets arrive on the device the ESP came in on), so a client
whose outer address is reached through another device than the pool's route gets a /32 of
its own (``<virtual IP>/32 via <next hop> dev <that device>``, more specific). The pool route
is added again (replacing itself) at most every SOURCE_CACHE_SECONDS while clients connect,
so one removed behind our back (a PPPoE link that came back as a new device) returns, and it
moves to a new device only when the old one is gone or no client uses it.

The requests go over our own NETLINK_ROUTE socket (:mod:`ikev2d.kernel.netlink`, messages in
:mod:`ikev2d.kernel.rtnl`), not pyroute2's IPRoute, whose import alone costs ~25 MB.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from collections.abc import Sequence

from ikev2d.kernel import rtnl
from ikev2d.kernel.addresses import LocalAddresses
from ikev2d.kernel.errors import RouteError
from ikev2d.kernel.netlink import NETLINK_ROUTE, NLM_F_ACK, NetlinkSocket

__all__ = ["RTPROT_IKEV2D", "VirtualIpRoutes"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RTPROT_IKEV2D = 0xC2
NLM_F_REPLACE, NLM_F_CREATE = 0x100, 0x400
# How long the router's address inside the protected subnets is reused without asking the
# kernel again, and a pool's route without adding it again: a burst of connecting clients
# costs one address dump and one route add, not one each, and a changed LAN address or a
# route removed behind our back is seen within this time (the address at once, when the
# kernel refuses it).
SOURCE_CACHE_SECONDS = 30.0


class _PoolRoute:
    """The route of one pool as added, the clients it carries, and when to add it again."""

    __slots__ = ("members", "route", "until")

    def __init__(self, route: rtnl.Route, until: float) -> None:
        self.route = route
        self.until = until
        self.members: set[str] = set()


class VirtualIpRoutes:
    """Adds and removes the virtual-IP routes of the current network namespace."""

    def __init__(self) -> None:
        self._nl = NetlinkSocket(protocol=NETLINK_ROUTE, error=RouteError)
        self.addresses = LocalAddresses(self._nl)
        self._pools: list[IPNetwork] = []
        self._pool_routes: dict[IPNetwork, _PoolRoute] = {}
        self._routes: dict[str, rtnl.Route] = {}  # virtual IP -> its own /32 as added
        self._sources: dict[tuple, tuple[float, str | None]] = {}  # local_ts -> (until, src)
        self._now = 0.0  # the clock, read when a client is routed

    def cover(self, pools: Sequence[str]) -> None:
        """The address pools: a client inside one is routed by the pool's route."""
        self._pools = [ipaddress.ip_network(p) for p in pools]

    def _cached_source_in(self, local_ts, family: int, *, fresh: bool = False) -> str | None:
        key = (family, *(str(n) for n in local_ts))
        cached = self._sources.get(key)
        if fresh or cached is None or cached[0] <= self._now:
            source = self._source_in(local_ts, family)
            cached = self._sources[key] = (self._now + SOURCE_CACHE_SECONDS, source)
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

    def _pool_of(self, virtual_ip: str) -> IPNetwork | None:
        address = ipaddress.ip_address(virtual_ip)
        return next((p for p in self._pools if address in p), None)

    def add(self, virtual_ip: str, peer: str, local_ts, device: int | None = None) -> rtnl.Route:
        """Route `virtual_ip` the way packets to `peer` (its outer address) go: by its pool's
        route when that leads there, else by a /32 of its own. `device`: the interface the
        client's packets arrive on, if known; reverse-path filtering wants the route there,
        so when the pool's route (fresh) leads there, no lookup is needed."""
        self._now = time.monotonic()  # once per client: a syscall where there is no vDSO
        family = socket.AF_INET6 if ":" in virtual_ip else socket.AF_INET
        pool = self._pool_of(virtual_ip)
        if pool is not None and device is not None:
            joined = self._join_pool_on(pool, virtual_ip, device, local_ts, family)
            if joined is not None:
                return joined
        path = self._path_to(peer)
        if pool is not None and self._join_pool(pool, virtual_ip, path, local_ts, family):
            self.remove_own(virtual_ip)
            return self._pool_routes[pool].route
        self._leave_pool(virtual_ip)
        # An inner address of the other family than the outer one (an IPv6 client address
        # over IPv4, or the reverse) cannot name that next hop: the route only needs the
        # device, since the XFRM policy takes the packet before any neighbour lookup.
        gateway = path.gateway if path.family == family else None
        route = self._add_with_source(
            lambda src: rtnl.Route(
                family, virtual_ip, 32 if family == socket.AF_INET else 128,
                protocol=RTPROT_IKEV2D,
                scope=rtnl.RT_SCOPE_UNIVERSE if gateway else rtnl.RT_SCOPE_LINK,
                oif=path.oif, gateway=gateway, prefsrc=src,
            ), local_ts, family,
        )  # fmt: skip
        self._routes[virtual_ip] = route
        return route

    def _join_pool_on(
        self, pool, virtual_ip: str, device: int | None, local_ts, family: int
    ) -> rtnl.Route | None:
        """The pool's route, if it is fresh and leads to `device`: `virtual_ip` joins it."""
        current = self._pool_routes.get(pool)
        if (
            current is None
            or current.route.oif != device
            or current.until <= self._now
            or current.route.prefsrc != self._cached_source_in(local_ts, family)
        ):
            return None
        current.members.add(virtual_ip)
        self.remove_own(virtual_ip)
        return current.route

    def _join_pool(self, pool, virtual_ip: str, path: rtnl.Route, local_ts, family) -> bool:
        """Carry `virtual_ip` by its pool's route (adding or renewing that route) if the route
        leads where `path` does; False when the client needs a /32 of its own."""
        if self._join_pool_on(pool, virtual_ip, path.oif, local_ts, family) is not None:
            return True
        now = self._now
        current = self._pool_routes.get(pool)
        if (
            current is not None
            and current.route.oif != path.oif
            and current.members - {virtual_ip}
            and (current.until > now or self._still_there(current))
        ):
            return False  # another device than the pool's route: a /32 of its own
        route = self._add_with_source(
            lambda src: rtnl.Route(
                family, str(pool.network_address), pool.prefixlen, protocol=RTPROT_IKEV2D,
                scope=rtnl.RT_SCOPE_LINK, oif=path.oif, prefsrc=src,
            ), local_ts, family,
        )  # fmt: skip
        if current is None:
            current = self._pool_routes[pool] = _PoolRoute(route, 0.0)
        current.route, current.until = route, now + SOURCE_CACHE_SECONDS
        current.members.add(virtual_ip)
        return True

    def _still_there(self, pool_route: _PoolRoute) -> bool:
        """Add the pool's route again as it was; False when its device is gone."""
        try:
            self._add(pool_route.route)
        except RouteError as exc:
            if exc.errno in (errno.ENODEV, errno.ENETDOWN, errno.EINVAL):
                return False
            raise
        pool_route.until = self._now + SOURCE_CACHE_SECONDS
        return True

    def _add_with_source(self, make, local_ts, family: int) -> rtnl.Route:
        route = make(self._cached_source_in(local_ts, family))
        try:
            self._add(route)
        except RouteError as exc:
            if exc.errno != errno.EINVAL or route.prefsrc is None:
                raise
            # the cached source address may be gone (LAN address changed): ask again
            route = make(self._cached_source_in(local_ts, family, fresh=True))
            self._add(route)
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

    def remove_own(self, virtual_ip: str) -> None:
        route = self._routes.pop(virtual_ip, None)
        if route is not None:
            self._delete(route)

    def _leave_pool(self, virtual_ip: str) -> None:
        """`virtual_ip` is no longer carried by its pool's route; the last client out
        takes the route with it."""
        for pool, pool_route in list(self._pool_routes.items()):
            if virtual_ip in pool_route.members:
                pool_route.members.discard(virtual_ip)
                if not pool_route.members:
                    del self._pool_routes[pool]
                    self._delete(pool_route.route)

    def remove(self, virtual_ip: str) -> None:
        self.remove_own(virtual_ip)
        self._leave_pool(virtual_ip)

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
        self._pool_routes.clear()
        return len(found)

    def close(self) -> None:
        self._nl.close()
