"""IPv6 outside and inside the tunnel against strongSwan with kernel ESP (issue 14).

Outside: a phone reaches the router over IPv6 (UDP 500/4500 on the IPv6 WAN address, XFRM
SAs with IPv6 outer addresses). Inside: a dual-stack phone gets an IPv4 and an IPv6 address
and reaches the LAN's IPv6 host through ESP; in a full tunnel its IPv6 default goes into the
tunnel.

Run with:
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_ipv6.py
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from testbed.probes import sa_packets, spis, xfrm_stat
from testbed.swanctl import Conn
from testbed.topology import (
    LAN_HOST,
    LAN_HOST6,
    LAN_NET,
    LAN_NET6,
    NAT_INSIDE,
    NAT_OUTSIDE,
    ROUTER_LAN,
    ROUTER_WAN6,
    phone_addr6,
)
from testbed.world import MAIN_CONFIG, Phone, World, phone_id

pytestmark = pytest.mark.espvm

OUTSIDE6 = Conn("outside6", phone_id(1), remote_addrs=ROUTER_WAN6)
ROAMING = Conn("roaming", phone_id(1))  # starts over IPv4
DUAL = Conn("dual", phone_id(1), vips="0.0.0.0, ::", remote_ts=f"{LAN_NET}, {LAN_NET6}")
FULL = Conn("full", phone_id(1), vips="0.0.0.0, ::", remote_ts="0.0.0.0/0, ::/0")
# as Android's built-in client: all of IPv6 as its own side, whatever address it gets
PHONE_LIKE = Conn("phonelike", phone_id(1), vips="0.0.0.0, ::",
                        remote_ts="0.0.0.0/0, ::/0", local_ts="dynamic, ::/0")  # fmt: skip
POOL6 = "fd00:99::/64"
INSIDE6 = {**MAIN_CONFIG, "pool6": POOL6, "local_subnet": [LAN_NET, LAN_NET6]}
FULL_TUNNEL = {**MAIN_CONFIG, "local_subnet": ["0.0.0.0/0"], "dns": [ROUTER_LAN],
               "masquerade": True}  # fmt: skip
INTERNET6 = "2001:db8:ffff::1"  # an address beyond the router, through the tunnel or not


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    phones = [Phone([OUTSIDE6, ROAMING, DUAL, FULL, PHONE_LIKE])]
    with World.build(tmp_path_factory.mktemp("ipv6"), phones, ipv6=True) as w:
        yield w


def test_client_over_ipv6_outside_passes_traffic(clean):
    """IKE and ESP between IPv6 addresses; the client's IPv4 address is routed over the IPv6
    WAN (the router has no IPv4 default route here: the daemon's route must do)."""
    w = clean
    d = w.use(MAIN_CONFIG)
    w.topo.router.ip("route", "del", "default")
    try:
        out = w.phones[0].initiate("outside6")
        assert re.search(r"CHILD_SA outside6\{\d+\} established", out), out + w.logs()
        (client,) = d.status()["clients"]
        assert client["remote"].startswith(f"[{phone_addr6(1)}]:"), client
        ping = w.topo.phone.ping(LAN_HOST, count=2, check=False)
        assert "2 received" in ping.stdout, ping.stdout + w.logs()
        state = w.topo.router.ip("xfrm", "state").stdout
        assert f"src {phone_addr6(1)} dst {ROUTER_WAN6}" in state, state
        assert "no route" not in d.log_text(), d.log_text()
    finally:
        w.topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)


def test_mobike_moves_the_tunnel_from_ipv4_to_ipv6(clean):
    """The phone loses its IPv4 address: strongSwan knows our IPv6 address from the
    ADDITIONAL_IP6_ADDRESS of our IKE_AUTH response, sends UPDATE_SA_ADDRESSES from its IPv6
    address, and the kernel SAs move to IPv6 outer addresses (same SPIs); traffic goes on."""
    w = clean
    d = w.use(MAIN_CONFIG)
    phone = w.topo.phone
    out = w.phones[0].initiate("roaming")
    assert re.search(r"CHILD_SA roaming\{\d+\} established", out), out + w.logs()
    # strongSwan's name for the ADDITIONAL_IP6_ADDRESS in our response
    assert re.search(r"parsed IKE_AUTH response 1 \[.* N\(ADD_6_ADDR\)", out), out
    before = spis(w.topo.router.ip("xfrm", "state").stdout)
    phone.ip("addr", "del", f"{w.topo.phone_addrs[0]}/24", "dev", "wan0")
    try:
        w.wait_for(
            lambda: d.status()["clients"][0]["remote"].startswith(f"[{phone_addr6(1)}]"),
            20, "the client moved to IPv6",
        )  # fmt: skip
        state = w.topo.router.ip("xfrm", "state").stdout
        assert spis(state) == before, state  # moved, not renegotiated
        assert f"src {phone_addr6(1)} dst {ROUTER_WAN6}" in state, state
        ping = phone.ping(LAN_HOST, count=2, check=False)
        assert "2 received" in ping.stdout, ping.stdout + w.logs()
        assert "moved to [2001:db8:1::1]" in d.log_text(), d.log_text()
    finally:
        phone.batch([f"addr add {w.topo.phone_addrs[0]}/24 dev wan0",
                     f"route replace default via {NAT_INSIDE}"])  # fmt: skip


def connect(w, conn: str) -> str:
    out = w.phones[0].initiate(conn)
    assert re.search(rf"CHILD_SA {conn}\{{\d+\}} established", out), out + w.logs()
    return out


def test_dual_stack_client_gets_both_addresses_and_reaches_the_ipv6_lan(clean):
    w = clean
    d = w.use(INSIDE6)
    out = connect(w, "dual")
    vips = re.findall(r"installing new virtual IP (\S+)", out)
    (client,) = d.status()["clients"]
    assert vips == [client["virtual_ip"], client["virtual_ip6"]], (vips, client)
    assert ipaddress.ip_address(client["virtual_ip6"]) in ipaddress.ip_network(POOL6)
    before = sa_packets(w.topo.router.ip("-s", "xfrm", "state").stdout)
    ping = w.topo.phone.ping(LAN_HOST6, count=3, check=False)
    assert "3 received" in ping.stdout, ping.stdout + w.logs()
    after = sa_packets(w.topo.router.ip("-s", "xfrm", "state").stdout)
    assert sum(p for _, p in after.values()) >= sum(p for _, p in before.values()) + 6, after
    policies = w.topo.router.ip("xfrm", "policy").stdout
    assert f"src {LAN_NET6} dst {client['virtual_ip6']}/128" in policies, policies


def test_full_tunnel_takes_the_phones_ipv6_default_route(clean):
    w = clean
    d = w.use({**FULL_TUNNEL, "pool6": POOL6})
    connect(w, "full")
    (client,) = d.status()["clients"]
    route = w.topo.phone.ip("-6", "route", "get", INTERNET6).stdout
    assert "table 220" in route and f"src {client['virtual_ip6']}" in route, route
    ping = w.topo.phone.ping(LAN_HOST6, count=2, check=False)
    assert "2 received" in ping.stdout, ping.stdout + w.logs()


def test_full_tunnel_without_pool6_refuses_ipv6_instead_of_leaking_it(clean):
    """No IPv6 address for the phone, but ::/0 on both sides of the tunnel: a phone that
    keeps ::/0 as its own side (Android builds its routes from our TSr) sends its IPv6 into
    the tunnel, none in the clear, and the router drops it."""
    w = clean
    d = w.use(FULL_TUNNEL)
    connect(w, "phonelike")
    (client,) = d.status()["clients"]
    assert client["virtual_ip6"] is None
    policies = w.topo.phone.ip("-6", "xfrm", "policy").stdout
    assert re.search(r"src ::/0 dst ::/0\s+dir out", policies), policies
    dropped = in_no_policy(w)
    ping = w.topo.phone.ping(LAN_HOST6, count=2, check=False)
    # a leaked ping would reach the LAN host around the tunnel, and be answered
    assert "0 received" in ping.stdout, ping.stdout + w.logs()
    assert in_no_policy(w) >= dropped + 2  # decrypted by the router, dropped for no policy
    policies = w.topo.router.ip("xfrm", "policy").stdout  # the IKE sockets' bypass aside
    assert not re.search(r"src \S*:\S* dst \S+\s+dir ", policies), policies


def in_no_policy(w) -> int:
    """The router's XfrmInNoPols: packets that came out of ESP and matched no policy."""
    return xfrm_stat(w.topo.router, "XfrmInNoPols")
