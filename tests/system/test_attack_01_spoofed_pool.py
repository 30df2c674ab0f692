"""Item 1 of issue 13 (attack tier, kernel ESP): spoofed pool sources must not reach the LAN.

The firewall forwards from wan whatever has a pool source, and IPsec policies existed only for
leased addresses: a clear packet from an unleased pool address (10.10.10.99) arriving on wan
was forwarded to the LAN. The daemon now installs in/fwd block policies for the whole pool
below every client's policy: only what came out of a client's ESP SA gets through.

phone1 holds a tunnel (10.10.10.1); phone2 has none and forges pool sources in clear.

The other way: the clients share one route for the whole pool (kernel.routes), so a packet to
a pool address that no client holds would follow it out of the WAN in clear; out block
policies for the whole pool drop it (and did not exist while each client had its own /32:
such a packet then left by the default route, in clear too).

Run with (tests/system/test_attack_*.py: the attack tier's kernel part):
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest -m attack tests/system
"""

from __future__ import annotations

import socket

import pytest

from testbed.netns import drain
from testbed.probes import xfrm_stat
from testbed.swanctl import Conn
from testbed.topology import LAN_HOST, ROUTER_LAN
from testbed.world import MAIN_CONFIG, Phone, World, phone_id

pytestmark = [pytest.mark.espvm, pytest.mark.attack]

UNLEASED = "10.10.10.99"
PORT = 5555


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    phones = [Phone([Conn("home", phone_id(1))]), Phone()]  # phone2: no tunnel, a spoofer
    with World.build(tmp_path_factory.mktemp("spoof"), phones) as w:
        yield w


def _blocked_in_router(w: World) -> int:
    """The router's XfrmInPolBlock counter: packets a block policy dropped."""
    return xfrm_stat(w.topo.router, "XfrmInPolBlock")


def _send(ns, source: str, payload: bytes, to: tuple[str, int], count: int = 1) -> None:
    with ns.udp_socket(source, 0) as s:
        for _ in range(count):
            s.sendto(payload, to)


def _received(sock: socket.socket, until: bytes, timeout: float = 10.0) -> list[bytes]:
    """Datagrams on `sock` up to and including `until` (bounded in time)."""
    sock.settimeout(timeout)
    got = []
    while until not in got:
        got.append(sock.recv(2048))
    return got


def test_item01_clear_packets_from_the_pool(world):
    w = world
    w.use(MAIN_CONFIG)
    vip = w.connect("home")
    assert vip != UNLEASED
    spoofer = w.topo.phones[1]
    spoofer.batch([f"addr add {UNLEASED}/32 dev wan0", f"addr add {vip}/32 dev wan0"])
    before = _blocked_in_router(w)
    with w.topo.lan.udp_socket("0.0.0.0", PORT) as lan, \
            w.topo.router.udp_socket(ROUTER_LAN, PORT) as router:  # fmt: skip
        # forged in clear: an unleased pool address to the LAN host and to the router itself
        _send(spoofer, UNLEASED, b"spoofed", (LAN_HOST, PORT), count=5)
        _send(spoofer, UNLEASED, b"spoofed", (ROUTER_LAN, PORT), count=5)
        # ... and the leased address of phone1, in clear
        _send(spoofer, vip, b"spoofed", (LAN_HOST, PORT), count=5)
        # the same through phone1's tunnel
        _send(w.topo.phones[0], vip, b"tunnelled", (LAN_HOST, PORT))
        _send(w.topo.phones[0], vip, b"tunnelled", (ROUTER_LAN, PORT))
        at_lan = _received(lan, b"tunnelled")
        at_router = _received(router, b"tunnelled")
    assert at_lan == [b"tunnelled"], at_lan
    assert at_router == [b"tunnelled"], at_router
    # the block policies dropped the unleased source (the client's policy the leased one)
    w.wait_for(lambda: _blocked_in_router(w) - before >= 10, 5, "10 blocked packets")
    policies = w.topo.router.ip("xfrm", "policy").stdout
    assert policies.count("src 10.10.10.0/24 dst 0.0.0.0/0") == 2, policies


def test_packets_to_an_unleased_pool_address_never_leave_in_clear(world):
    """The nat box upstream of the router's WAN holds 10.10.10.99 and listens: what the LAN
    host sends there is dropped by the pool's out block policy (and the router's own send is
    refused), while phone1 behind its tunnel is reached through the same pool route."""
    w = world
    w.use(MAIN_CONFIG)
    w.reset()  # a fresh tunnel whichever test ran before
    w.wait_for(lambda: not w.clients(), 15, "no client")
    vip = w.connect("home")
    router, upstream = w.topo.router, w.topo.nat_box
    routes = router.ip("route", "show", "proto", "194").stdout
    assert routes.startswith("10.10.10.0/24 dev wan0 scope link src 192.168.1.1"), routes
    assert len(routes.splitlines()) == 1, routes
    upstream.ip("addr", "add", f"{UNLEASED}/32", "dev", "out0")
    before = xfrm_stat(router, "XfrmOutPolBlock")
    try:
        with upstream.udp_socket(UNLEASED, PORT) as listener, \
                w.topo.phones[0].udp_socket(vip, PORT) as phone:  # fmt: skip
            _send(w.topo.lan, LAN_HOST, b"to-unleased", (UNLEASED, PORT), count=5)
            with pytest.raises(PermissionError):  # the router's own: refused at sendto()
                _send(router, ROUTER_LAN, b"to-unleased", (UNLEASED, PORT))
            _send(w.topo.lan, LAN_HOST, b"to-phone", (vip, PORT))
            assert _received(phone, b"to-phone") == [b"to-phone"]
            w.wait_for(lambda: xfrm_stat(router, "XfrmOutPolBlock") - before >= 6, 5, "blocks")
            assert drain(listener) == []
    finally:
        upstream.ip("addr", "del", f"{UNLEASED}/32", "dev", "out0")
