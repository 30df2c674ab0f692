"""IPv6 outside and inside the tunnel against strongSwan with kernel ESP (issue 14).

Outside: a phone reaches the router over IPv6 (UDP 500/4500 on the IPv6 WAN address, XFRM
SAs with IPv6 outer addresses). Inside: a dual-stack phone gets an IPv4 and an IPv6 address
and reaches the LAN's IPv6 host through ESP; in a full tunnel its IPv6 default goes into the
tunnel.

Run with:
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_ipv6.py
"""

from __future__ import annotations

import re

import pytest
from lifecycle_world import spis
from tunnel_world import MAIN_CONFIG, ClientConn, World, phone_id, wait_for

from harness.topology import LAN_HOST, NAT_INSIDE, NAT_OUTSIDE, ROUTER_WAN6, phone_addr6

pytestmark = pytest.mark.espvm

OUTSIDE6 = ClientConn("outside6", phone_id(1), remote_addrs=ROUTER_WAN6)
ROAMING = ClientConn("roaming", phone_id(1))  # starts over IPv4


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World.build(tmp_path_factory.mktemp("ipv6"), [[OUTSIDE6, ROAMING]], ipv6=True)
    try:
        yield w
    finally:
        w.teardown()


@pytest.fixture
def w(world, request):
    yield world
    world.reset()
    wait_for(lambda: not world.daemon.status()["clients"], 15, "clients gone", world.logs)


def test_client_over_ipv6_outside_passes_traffic(w):
    """IKE and ESP between IPv6 addresses; the client's IPv4 address is routed over the IPv6
    WAN (the router has no IPv4 default route here: the daemon's route must do)."""
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


def test_mobike_moves_the_tunnel_from_ipv4_to_ipv6(w):
    """The phone loses its IPv4 address: strongSwan knows our IPv6 address from the
    ADDITIONAL_IP6_ADDRESS of our IKE_AUTH response, sends UPDATE_SA_ADDRESSES from its IPv6
    address, and the kernel SAs move to IPv6 outer addresses (same SPIs); traffic goes on."""
    d = w.use(MAIN_CONFIG)
    phone = w.topo.phone
    out = w.phones[0].initiate("roaming")
    assert re.search(r"CHILD_SA roaming\{\d+\} established", out), out + w.logs()
    # strongSwan's name for the ADDITIONAL_IP6_ADDRESS in our response
    assert re.search(r"parsed IKE_AUTH response 1 \[.* N\(ADD_6_ADDR\)", out), out
    before = spis(w.topo.router.ip("xfrm", "state").stdout)
    phone.ip("addr", "del", f"{w.topo.phone_addrs[0]}/24", "dev", "wan0")
    try:
        wait_for(
            lambda: d.status()["clients"][0]["remote"].startswith(f"[{phone_addr6(1)}]"),
            20, "the client moved to IPv6", w.logs,
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
