"""The ESP kernel and the harness work: a hand-made ESP tunnel, then strongSwan to strongSwan.

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system
"""

from __future__ import annotations

import re
import struct

import pytest

from harness.topology import LAN_HOST, LAN_NET

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
    for block in re.split(r"^src ", state_text, flags=re.MULTILINE)[1:]:
        if f"spi {spi:#010x}" in block:
            return int(re.search(r"(\d+)\(bytes\), (\d+)\(packets\)", block).group(2))
    raise AssertionError(f"SA {spi:#x} not in:\n{state_text}")


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
    secret = "system-test-psk-0123456789"
  }
}
"""
PHONE_CONF = """
connections {
  home {
    version = 2
    remote_addrs = 198.51.100.1
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-curve25519
    local {
      auth = psk
      id = phone@example.test
    }
    remote {
      auth = psk
      id = vpn.example.test
    }
    children {
      home {
        remote_ts = %(lan)s
        esp_proposals = aes256gcm16
      }
    }
  }
}
secrets {
  ike-any {
    secret = "system-test-psk-0123456789"
  }
}
"""


@pytest.mark.parametrize("nat", [False, True], ids=["direct", "nat"])
def test_strongswan_psk_tunnel_kernel_netlink(road_warrior, make_charon, nat):
    topo = road_warrior(nat=nat)
    router = make_charon(topo.router, "router")
    phone = make_charon(topo.phone, "phone")
    router.write_swanctl_conf(ROUTER_CONF % {"lan": LAN_NET})
    phone.write_swanctl_conf(PHONE_CONF % {"lan": LAN_NET})
    for charon in (router, phone):
        charon.launch()
    for charon in (router, phone):
        charon.wait_ready()
        charon.load_all()

    out = phone.initiate("home")

    assert "CHILD_SA home{1} established" in out
    vip = re.search(r"installing new virtual IP (10\.10\.10\.\d+)", out).group(1)
    ping = topo.phone.ping(LAN_HOST, count=2)
    assert "2 received" in ping.stdout
    sas = router.list_sas()
    assert "ESTABLISHED" in sas and f"{vip}/32" in sas
    # real kernel SAs carried it (not a userspace stack), UDP-encapsulated exactly behind NAT
    states = topo.router.ip("-s", "xfrm", "state").stdout
    assert re.search(r"\b[1-9]\d*\(packets\)", states), states
    assert ("encap type espinudp" in states) == nat
