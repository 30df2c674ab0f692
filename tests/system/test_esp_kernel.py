"""The ESP kernel and the harness work: a hand-made ESP tunnel, then strongSwan to strongSwan.

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system
"""

from __future__ import annotations

import re
import struct

import pytest

from testbed.probes import sa_packets
from testbed.swanctl import Conn
from testbed.topology import LAN_HOST, LAN_NET
from testbed.world import Phone, StrongswanServer, World

pytestmark = pytest.mark.espvm

ENC_KEY = "0x" + "11" * 16
AUTH_KEY = "0x" + "22" * 32
A_OUTER, B_OUTER = "192.0.2.1", "192.0.2.2"
A_INNER, B_INNER = "10.1.0.1", "10.2.0.1"
SPI_AB, SPI_BA = 0x0A0B0001, 0x0B0A0001
PATTERN = "c0ffee5aa5c0ffee"  # ping payload: must never be seen in clear on the wire


def _esp_lines(outer: str, inner: str, peer_outer: str, peer_inner: str) -> list[str]:
    """`ip` batch lines for one end: addresses, route, both SAs, out and in policies."""
    sa = "xfrm state add src {} dst {} proto esp spi {:#x} reqid 1 mode tunnel " + (
        f"enc cbc(aes) {ENC_KEY} auth-trunc hmac(sha256) {AUTH_KEY} 128"
    )
    pol = "xfrm policy add src {}/32 dst {}/32 dir {} tmpl src {} dst {} proto esp reqid 1 " + (
        "mode tunnel"
    )
    return [
        f"addr add {outer}/24 dev e0",
        "link set e0 up",
        f"addr add {inner}/32 dev lo",
        f"route add {peer_inner}/32 via {peer_outer} src {inner}",
        sa.format(A_OUTER, B_OUTER, SPI_AB),
        sa.format(B_OUTER, A_OUTER, SPI_BA),
        pol.format(inner, peer_inner, "out", outer, peer_outer),
        pol.format(peer_inner, inner, "in", peer_outer, outer),
    ]


def _packets(state_text: str, spi: int) -> int:
    """Packet counter of the SA with `spi` from `ip -s xfrm state`."""
    counters = sa_packets(state_text)
    assert spi in counters, state_text
    return counters[spi][1]


def test_hand_made_esp_tunnel_carries_ping(netns_set):
    a, b = netns_set.add_many("a", "b")
    netns_set.veths([(a, "e0", b, "e0")])
    a.batch(["link set lo up", *_esp_lines(A_OUTER, A_INNER, B_OUTER, B_INNER)])
    b.batch(["link set lo up", *_esp_lines(B_OUTER, B_INNER, A_OUTER, A_INNER)])
    esp_seen = b.raw_socket(50)  # IPPROTO_ESP: a copy of every ESP packet reaching b
    esp_seen.settimeout(2)

    with esp_seen:
        a.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-p", PATTERN, B_INNER],
              timeout=15)  # fmt: skip
        wire = [esp_seen.recv(2048) for _ in range(3)]

    for packet in wire:
        ihl = (packet[0] & 0x0F) * 4
        assert packet[9] == 50  # IP protocol ESP
        (spi,) = struct.unpack_from("!I", packet, ihl)
        assert spi == SPI_AB
        assert bytes.fromhex(PATTERN) not in packet  # the inner ICMP is encrypted
    assert _packets(a.ip("-s", "xfrm", "state").stdout, SPI_AB) == 3
    assert _packets(b.ip("-s", "xfrm", "state").stdout, SPI_BA) == 3  # the echo replies


ROUTER_CONF = """
connections {
  rw {
    version = 2
    local_addrs = 198.51.100.1
    proposals = aes256gcm16-prfsha256-curve25519
    pools = rw_pool
    send_certreq = no
    local {
      auth = psk
      id = vpn.example.test
    }
    remote {
      auth = psk
    }
    children {
      rw {
        local_ts = %(lan)s
        esp_proposals = aes256gcm16
      }
    }
  }
}
pools {
  rw_pool {
    addrs = 10.10.10.0/24
  }
}
secrets {
  ike-any {
    secret = "%(secret)s"
  }
}
"""
SECRET = "system-test-psk-0123456789"
PHONE = Conn("home", "phone@example.test", secret=SECRET,
             proposals="aes256gcm16-prfsha256-curve25519", esp="aes256gcm16")  # fmt: skip


@pytest.fixture(params=[False, True], ids=["direct", "nat"])
def world(request, tmp_path):
    server = StrongswanServer(ROUTER_CONF % {"lan": LAN_NET, "secret": SECRET})
    w = World.build(tmp_path, [Phone([PHONE])], nat=request.param, server=server)
    yield w
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        print(w.logs())
    w.teardown()


def test_strongswan_psk_tunnel_kernel_netlink(world):
    nat = world.topo.nat
    router = world.responder

    vip = world.connect("home")

    assert "CHILD_SA home{1} established" in world.phones[0].log_text()
    assert vip.startswith("10.10.10.")
    ping = world.topo.phone.ping(LAN_HOST, count=2)
    assert "2 received" in ping.stdout
    sas = router.list_sas()
    assert "ESTABLISHED" in sas and f"{vip}/32" in sas
    # real kernel SAs carried it (not a userspace stack), UDP-encapsulated exactly behind NAT
    states = world.topo.router.ip("-s", "xfrm", "state").stdout
    assert re.search(r"\b[1-9]\d*\(packets\)", states), states
    assert ("encap type espinudp" in states) == nat
