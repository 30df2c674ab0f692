"""The whole router in one kernel: a strongSwan phone reaches a LAN host through fw4's real
ruleset and ikev2d under procd; after `/etc/init.d/ikev2d stop` the firewall refuses the
phone's traffic and its new IKE attempts (issue 12).

Run with: tests/wholerouter/run .venv/bin/python -m pytest tests/wholerouter/test_firewall.py
"""

from __future__ import annotations

import re
import struct

from testbed import wait_until
from testbed.netns import drain
from testbed.openwrt_service import (
    enable,
    ikev2d_rules,
    other_rules,
    wait_rules,
    wait_stopped,
)
from testbed.topology import LAN_HOST, ROUTER_WAN, phone_addr
from testbed.world import openwrt_conn

# In the nat box (the ISP, routing here): counts the IKE packets it forwards to the router's
# WAN address (so "nothing reached the router's sockets" cannot mean "nothing was sent"), and,
# once switched on, loses what the router sends from its IKE ports, as a flaky mobile network
# would.
UPSTREAM_WATCH = f"""table ip watch {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    ip daddr {ROUTER_WAN} udp dport {{ 500, 4500 }} counter comment "ike-to-router"
  }}
}}
"""
PHONE = phone_addr(1)
PHONE_MOVED = "192.0.2.200"  # the phone's second address, as after moving to another network
LOSE_IKE_FROM_ROUTER = (
    f"add rule ip watch forward ip saddr {ROUTER_WAN} udp sport {{ 500, 4500 }} drop\n"
)


def test_phone_reaches_the_lan_and_stop_makes_the_firewall_refuse_it(world_factory):
    w = world_factory(
        conns=[
            openwrt_conn("home", "phone1@example.test"),
            openwrt_conn("moved", "phone1@example.test", local_addrs=PHONE_MOVED),
        ]
    )
    router = w.openwrt
    w.topo.phone.ip("addr", "add", f"{PHONE_MOVED}/24", "dev", "wan0")
    baseline = other_rules(router)
    assert ikev2d_rules(router) == []  # installed, not enabled: nothing open
    w.topo.nat_box.run(["nft", "-f", "-"], input=UPSTREAM_WATCH)

    enable(router, timeout=120)
    opened = wait_until(lambda: ikev2d_rules(router), 60, what="ikev2d's firewall rules")
    assert any("udp dport 500 " in rule for rule in opened), opened

    vip = w.connect("home", timeout=60)
    ping = w.topo.phone.ping(LAN_HOST, count=2, check=False)
    assert "2 received" in ping.stdout, ping.stdout + w.logs()
    assert _esp_rule_packets(router) > 0, "the phone's ESP did not pass ikev2d's ESP rule"
    assert vip.startswith("10.10.10.")

    # The phone loses the router's Delete and keeps its SAs, so it goes on sending.
    w.topo.nat_box.run(["nft", "-f", "-"], input=LOSE_IKE_FROM_ROUTER)
    udp_in = w.topo.router.raw_socket(17)  # a copy of each UDP packet the router accepts
    with udp_in:
        router.run(["/etc/init.d/ikev2d", "stop"])
        wait_stopped(router, timeout=60)
        wait_rules(router, 0, timeout=60)
        assert other_rules(router) == baseline  # nothing else of the firewall changed

        # its tunnel is dead: no SA is left on the router (the ESP of this flow still passes
        # fw4's "ct state established" until conntrack forgets the flow, and then dies)
        sent_before = _phone_out_packets(w)
        ping = w.topo.phone.ping(LAN_HOST, count=2, check=False)
        assert "0 received" in ping.stdout, ping.stdout
        assert _phone_out_packets(w) >= sent_before + 2  # the phone did encrypt and send
        assert router.run(["ip", "xfrm", "state"]).stdout == ""

        # a new IKE attempt (from the phone's other address: a new flow) reaches the router
        # and the firewall refuses it
        drain(udp_in)
        ike_before = _upstream_count(w, "ike-to-router")
        out = w.phones[0].swanctl("--initiate", "--child", "moved", "--timeout", "10",
                              check=False, timeout=20)  # fmt: skip
        assert not out.ok and "initiating IKE_SA moved" in out.out, out.out
        assert _upstream_count(w, "ike-to-router") > ike_before
        from_phone = [p for p in drain(udp_in) if _src_and_dport(p)[0] == PHONE_MOVED]
        assert from_phone == [], "the phone's new IKE attempt passed the firewall after stop"


def _esp_rule_packets(router) -> int:
    """Packet counter of ikev2d's ESP rule in fw4's ruleset."""
    for rule in ikev2d_rules(router):
        if "esp" in rule and (m := re.search(r"counter packets (\d+)", rule)):
            return int(m.group(1))
    raise AssertionError(f"no counted ESP rule of ikev2d in {ikev2d_rules(router)}")


def _upstream_count(w, comment: str) -> int:
    ruleset = w.topo.nat_box.run(["nft", "list", "table", "ip", "watch"]).stdout
    m = re.search(rf'counter packets (\d+) bytes \d+ comment "{comment}"', ruleset)
    assert m, ruleset
    return int(m.group(1))


def _phone_out_packets(w) -> int:
    """Packets the phone's SA towards the router has encrypted."""
    state = w.topo.phone.ip("-s", "xfrm", "state").stdout
    for block in re.split(r"^src ", state, flags=re.MULTILINE)[1:]:
        if block.startswith(f"{PHONE} dst {ROUTER_WAN}"):
            return int(re.search(r"\d+\(bytes\), (\d+)\(packets\)", block).group(1))
    raise AssertionError(f"the phone has no SA towards the router:\n{state}")


def _src_and_dport(packet: bytes) -> tuple[str, int]:
    """(source address, destination port) of a raw IPv4 UDP packet."""
    ihl = (packet[0] & 0x0F) * 4
    src = ".".join(str(b) for b in packet[12:16])
    return src, struct.unpack_from("!H", packet, ihl + 2)[0]
