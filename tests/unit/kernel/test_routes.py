"""Client routes over our own NETLINK_ROUTE socket: message bytes, then a real namespace.

The encodings are checked twice: against bytes spelled out from rtnetlink.h, and against
pyroute2's own rtmsg/ifaddrmsg classes (an independent encoder of the same structures).
"""

from __future__ import annotations

import re
import socket
import struct

import pytest
from kernel_netns import in_netns, ip

from ikev2d.kernel import rtnl
from ikev2d.kernel.errors import RouteError
from ikev2d.kernel.routes import RTPROT_IKEV2D, VirtualIpRoutes

NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x400


def _rta(kind: int, value: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(value), kind) + value


def test_newroute_bytes():
    route = rtnl.Route(socket.AF_INET, "10.10.10.5", 32, protocol=RTPROT_IKEV2D, oif=7,
                       gateway="198.51.100.2", prefsrc="192.168.1.1")  # fmt: skip
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
    data = rtnl.encode_route(rtnl.RTM_NEWROUTE, flags, 9, route)
    body = (
        bytes([socket.AF_INET, 32, 0, 0, 254, 0xC2, 0, 1]) + b"\0\0\0\0"
        + _rta(1, bytes([10, 10, 10, 5])) + _rta(4, struct.pack("=I", 7))
        + _rta(5, bytes([198, 51, 100, 2])) + _rta(7, bytes([192, 168, 1, 1]))
    )  # fmt: skip
    assert data == struct.pack("=IHHII", 16 + len(body), 24, 0x505, 9, 0) + body


def test_big_table_goes_to_rta_table_and_back():
    route = rtnl.Route(socket.AF_INET, "10.0.0.0", 8, table=1000, protocol=3)
    data = rtnl.encode_route(rtnl.RTM_NEWROUTE, NLM_F_REQUEST, 1, route)
    assert data[16 + 4] == 252  # RT_TABLE_COMPAT in the header
    assert rtnl.decode_route(data, 0) == route


def test_encodings_match_pyroute2():
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg

    theirs = rtmsg()
    theirs["header"]["type"], theirs["header"]["flags"] = rtnl.RTM_NEWROUTE, 0x505
    theirs["header"]["sequence_number"] = 3
    theirs.update(family=socket.AF_INET, dst_len=32, table=254, proto=0xC2, scope=0, type=1)
    theirs["attrs"] = [("RTA_DST", "10.10.10.9"), ("RTA_OIF", 2), ("RTA_GATEWAY", "192.0.2.1"),
                       ("RTA_PREFSRC", "192.168.1.1")]  # fmt: skip
    theirs.encode()
    ours = rtnl.Route(socket.AF_INET, "10.10.10.9", 32, protocol=0xC2, oif=2,
                      gateway="192.0.2.1", prefsrc="192.168.1.1")  # fmt: skip
    assert rtnl.encode_route(rtnl.RTM_NEWROUTE, 0x505, 3, ours) == bytes(theirs.data)
    back = rtmsg(theirs.data)
    back.decode()
    assert back.get_attr("RTA_GATEWAY") == "192.0.2.1" and back["proto"] == 0xC2

    dump = ifaddrmsg(rtnl.dump_addresses(4, socket.AF_INET))
    dump.decode()
    assert (dump["header"]["type"], dump["header"]["flags"]) == (rtnl.RTM_GETADDR, 0x301)
    assert dump["family"] == socket.AF_INET
    addr = ifaddrmsg()
    addr["header"]["type"] = rtnl.RTM_NEWADDR
    addr.update(family=socket.AF_INET, prefixlen=24, index=5)
    addr["attrs"] = [("IFA_ADDRESS", "203.0.113.9"), ("IFA_LOCAL", "192.168.1.1")]
    addr.encode()
    assert rtnl.decode_address(bytearray(addr.data), 0) == (5, "192.168.1.1")  # LOCAL wins


def test_get_route_and_decode_bounds():
    data = rtnl.get_route(5, "2001:db8::1")
    assert data[16] == socket.AF_INET6 and data[17] == 128
    with pytest.raises(ValueError, match="truncated"):
        rtnl.decode_route(struct.pack("=IHHII", 20, 24, 0, 0, 0) + b"\0" * 4, 0)
    # an attribute claiming more than the message holds ends the walk, never reads past it
    head = bytes([2, 32, 0, 0, 254, 0xC2, 0, 1]) + b"\0" * 4
    bad = head + struct.pack("=HH", 200, 1) + b"\x0a\x00\x00\x01"
    msg = struct.pack("=IHHII", 16 + len(bad), 24, 0, 0, 0) + bad
    assert rtnl.decode_route(msg, 0) == rtnl.Route(2, None, 32, protocol=0xC2)


@pytest.fixture
def router(netns):
    """wan0 198.51.100.1/24 (a gateway .2 to 203.0.113.0/24), lan0 192.168.1.1/24."""
    for args in (
        ("link", "add", "wan0", "type", "veth", "peer", "name", "wan1"),
        ("link", "add", "lan0", "type", "veth", "peer", "name", "lan1"),
        ("addr", "add", "198.51.100.1/24", "dev", "wan0"),
        ("addr", "add", "192.168.1.1/24", "dev", "lan0"),
        ("link", "set", "lo", "up"),
        ("link", "set", "wan1", "up"),
        ("link", "set", "lan1", "up"),
        ("link", "set", "wan0", "up"),
        ("link", "set", "lan0", "up"),
        ("route", "add", "203.0.113.0/24", "via", "198.51.100.2"),
    ):
        ip(netns, *args)
    return netns


def _ours(ns: str) -> str:
    return ip(ns, "route", "show", "proto", str(RTPROT_IKEV2D))


def test_routes_in_a_namespace(router):
    ip(router, "route", "add", "10.10.10.99/32", "dev", "wan0", "proto", "194")  # a crash's
    ip(router, "route", "add", "10.10.10.98/32", "dev", "wan0", "proto", "static")  # foreign
    with in_netns(router):
        routes = VirtualIpRoutes()
    try:
        assert routes.flush() == 1
        assert _ours(router) == "" and "10.10.10.98" in ip(router, "route")

        routes.add("10.10.10.5", "203.0.113.7", ["192.168.1.0/24"])  # via the gateway
        routes.add("10.10.10.6", "198.51.100.9", ["192.168.1.0/24"])  # on the link
        routes.add("10.10.10.7", "203.0.113.8", ["0.0.0.0/0"])  # no subnet: no src
        routes.add("10.10.10.5", "203.0.113.7", ["192.168.1.0/24"])  # replace, not EEXIST
        text = _ours(router)
        assert re.search(r"^10\.10\.10\.5 via 198\.51\.100\.2 dev wan0 .*src 192\.168\.1\.1",
                         text, re.M), text  # fmt: skip
        assert re.search(r"^10\.10\.10\.6 dev wan0 scope link src 192\.168\.1\.1", text, re.M)
        assert re.search(r"^10\.10\.10\.7 via 198\.51\.100\.2 dev wan0 $", text, re.M), text
        assert len(text.splitlines()) == 3

        routes.remove("10.10.10.6")
        routes.remove("10.10.10.6")  # unknown now: nothing to do
        ip(router, "route", "del", "10.10.10.7/32")  # gone behind our back (flush, link down)
        routes.remove("10.10.10.7")
        assert _ours(router).splitlines() == [text.splitlines()[0]]

        with pytest.raises(RouteError) as info:
            routes.add("10.10.10.8", "192.0.2.50", ["192.168.1.0/24"])  # no route at all
        assert info.value.operation == "GETROUTE" and "rtnetlink" in str(info.value)
        assert routes.flush() == 1 and _ours(router) == ""
        assert "10.10.10.98" in ip(router, "route")
    finally:
        routes.close()


def test_source_address_is_reused_and_refreshed_when_it_changes(router):
    """A burst of clients shares one address lookup; when the LAN address changes under a
    cached one, the kernel's refusal makes the route use the new address at once."""
    with in_netns(router):
        routes = VirtualIpRoutes()
    try:
        lookups = []
        real_lookup = routes._source_in
        routes._source_in = lambda local_ts, family: (
            lookups.append(1) or real_lookup(local_ts, family)
        )
        for host in (5, 6, 7):
            routes.add(f"10.10.10.{host}", "203.0.113.7", ["192.168.1.0/24"])
        assert len(lookups) == 1
        assert _ours(router).count("src 192.168.1.1") == 3

        ip(router, "addr", "del", "192.168.1.1/24", "dev", "lan0")
        ip(router, "addr", "add", "192.168.1.254/24", "dev", "lan0")
        routes.add("10.10.10.8", "203.0.113.7", ["192.168.1.0/24"])
        assert len(lookups) == 2
        assert re.search(r"^10\.10\.10\.8 via .* src 192\.168\.1\.254", _ours(router), re.M)
    finally:
        routes.close()


def test_client_addresses_of_the_other_family_and_ipv6_routes(router):
    """An IPv6 client address over an IPv4 path (and the reverse) is routed by device alone;
    IPv6 routes get an IPv6 source inside the protected subnets; flush finds both families."""
    for args in (("addr", "add", "2001:db8:1::1/64", "dev", "wan0", "nodad"),
                 ("addr", "add", "fd00:1::1/64", "dev", "lan0", "nodad"),
                 ("route", "add", "2001:db8:2::/64", "via", "2001:db8:1::2")):  # fmt: skip
        ip(router, *args)
    with in_netns(router):
        routes = VirtualIpRoutes()
    try:
        routes.add("fd00:99::5", "203.0.113.7", ["fd00:1::/64", "192.168.1.0/24"])
        routes.add("10.10.10.5", "2001:db8:2::7", ["192.168.1.0/24"])
        routes.add("fd00:99::6", "2001:db8:2::7", ["::/0"])
        six = ip(router, "-6", "route", "show", "proto", str(RTPROT_IKEV2D))
        assert re.search(r"^fd00:99::5 dev wan0 .*src fd00:1::1", six, re.M), six
        assert re.search(r"^fd00:99::6 via 2001:db8:1::2 dev wan0", six, re.M), six
        assert re.search(r"^10\.10\.10\.5 dev wan0 scope link src 192\.168\.1\.1", _ours(router),
                         re.M), _ours(router)  # fmt: skip
        assert routes.flush() == 3
        assert _ours(router) == "" and "fd00:99" not in ip(router, "-6", "route")
    finally:
        routes.close()


def test_addresses_beside_the_contacted_one(router):
    ip(router, "addr", "add", "2001:db8:1::1/64", "dev", "wan0", "nodad")
    ip(router, "addr", "add", "198.51.100.7/24", "dev", "wan0")
    with in_netns(router):
        routes = VirtualIpRoutes()
    try:
        beside = routes.addresses.beside("198.51.100.1")
        assert sorted(beside) == ["198.51.100.7", "2001:db8:1::1"], beside  # no fe80::, no LAN
        assert routes.addresses.beside("192.0.2.99") == []  # not ours: nothing
    finally:
        routes.close()


@pytest.fixture
def clock(monkeypatch):
    """The routes' monotonic clock, moved by the test."""
    now = [1000.0]
    monkeypatch.setattr("ikev2d.kernel.routes.time.monotonic", lambda: now[0])
    return now


def test_the_clients_of_a_pool_share_one_route(router, clock):
    """One route for the pool (one add for a burst of clients), a /32 for a client reached
    through another device, the route taken away with the last client."""
    with in_netns(router):
        routes = VirtualIpRoutes()
    adds = []
    real_add = routes._add
    routes._add = lambda route: adds.append(route) or real_add(route)
    try:
        routes.cover(["10.10.10.0/24", "fd00:99::/64"])
        routes.add("10.10.10.5", "203.0.113.7", ["192.168.1.0/24"])  # via the gateway
        routes.add("10.10.10.6", "198.51.100.9", ["192.168.1.0/24"])  # on the link
        routes.add("10.10.10.7", "203.0.113.8", ["192.168.1.0/24"])
        assert _ours(router) == "10.10.10.0/24 dev wan0 scope link src 192.168.1.1 \n"
        assert len(adds) == 1

        routes.add("10.10.10.8", "192.168.1.50", ["192.168.1.0/24"])  # a client on the LAN
        lines = _ours(router).splitlines()
        assert "10.10.10.8 dev lan0 scope link src 192.168.1.1 " in lines, lines
        assert len(lines) == 2
        routes.add("10.10.10.8", "203.0.113.9", ["192.168.1.0/24"])  # it moved to the WAN
        assert _ours(router) == "10.10.10.0/24 dev wan0 scope link src 192.168.1.1 \n"

        clock[0] += 31  # the pool's route is added again (it may have gone behind our back)
        ip(router, "route", "del", "10.10.10.0/24")
        routes.add("10.10.10.9", "203.0.113.7", ["192.168.1.0/24"])
        assert _ours(router) == "10.10.10.0/24 dev wan0 scope link src 192.168.1.1 \n"

        for host in (5, 6, 7, 8):
            routes.remove(f"10.10.10.{host}")
        assert "10.10.10.0/24" in _ours(router)  # 10.10.10.9 still uses it
        routes.remove("10.10.10.9")
        assert _ours(router) == ""
    finally:
        routes.close()


def test_the_pool_route_follows_a_device_that_came_back_as_another(router, clock):
    """A PPPoE WAN that reconnects is a new device: the kernel dropped the pool's route with
    the old one, and the next client after the renewal time brings it back on the new."""
    with in_netns(router):
        routes = VirtualIpRoutes()
    try:
        routes.cover(["10.10.10.0/24"])
        routes.add("10.10.10.5", "203.0.113.7", ["192.168.1.0/24"])
        for args in (("link", "del", "wan0"),
                     ("link", "add", "wan2", "type", "veth", "peer", "name", "wan3"),
                     ("addr", "add", "198.51.100.1/24", "dev", "wan2"),
                     ("link", "set", "wan3", "up"), ("link", "set", "wan2", "up"),
                     ("route", "add", "203.0.113.0/24", "via", "198.51.100.2")):  # fmt: skip
            ip(router, *args)
        assert _ours(router) == ""
        routes.add("10.10.10.6", "203.0.113.8", ["192.168.1.0/24"])  # within the renewal time
        assert _ours(router).startswith("10.10.10.6 via 198.51.100.2 dev wan2")
        clock[0] += 31
        routes.add("10.10.10.7", "203.0.113.9", ["192.168.1.0/24"])
        assert "10.10.10.0/24 dev wan2 scope link src 192.168.1.1 " in _ours(router).splitlines()
        routes.remove("10.10.10.6")
        assert _ours(router) == "10.10.10.0/24 dev wan2 scope link src 192.168.1.1 \n"
    finally:
        routes.close()


def test_a_client_arriving_on_the_pool_routes_device_needs_no_lookup(router, clock):
    """The interface its IKE message came in on is where its ESP comes in: where the pool's
    route (fresh) leads there, joining it takes no request at all; elsewhere the lookup
    decides as before."""
    with in_netns(router):
        routes = VirtualIpRoutes()
        wan0, lan0 = socket.if_nametoindex("wan0"), socket.if_nametoindex("lan0")
    lookups = []
    real_path = routes._path_to
    routes._path_to = lambda peer: lookups.append(peer) or real_path(peer)
    try:
        routes.cover(["10.10.10.0/24"])
        routes.add("10.10.10.5", "203.0.113.7", ["192.168.1.0/24"], wan0)  # the first: lookup
        routes.add("10.10.10.6", "203.0.113.8", ["192.168.1.0/24"], wan0)
        assert lookups == ["203.0.113.7"]
        routes.add("10.10.10.7", "192.168.1.50", ["192.168.1.0/24"], lan0)  # elsewhere
        assert lookups[-1] == "192.168.1.50"
        assert "10.10.10.7 dev lan0 scope link src 192.168.1.1 " in _ours(router).splitlines()
        clock[0] += 31  # stale: looked up (and the pool's route added) again
        routes.add("10.10.10.8", "203.0.113.9", ["192.168.1.0/24"], wan0)
        assert lookups[-1] == "203.0.113.9" and len(lookups) == 3
        routes.remove("10.10.10.5")
        routes.remove("10.10.10.6")
        routes.remove("10.10.10.8")
        assert _ours(router) == "10.10.10.7 dev lan0 scope link src 192.168.1.1 \n"
    finally:
        routes.close()
