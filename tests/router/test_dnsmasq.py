"""DNS for VPN clients: OpenWrt's dnsmasq (its init script, Debian's dnsmasq binary) keeps its
default 'localservice' and still answers the pool while ikev2d runs, and only then; none of
dnsmasq's settings change; an older release's change is put back."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from testbed import wait_until
from testbed.openwrt_service import enable, install_opkg, uci_commit, wait_rules, wait_stopped

POOL_CLIENT = "10.10.10.5"  # an address of the default pool, as a connected phone has
LAN_DNS = "192.168.1.1"  # the router's LAN address: the DNS server clients are given
PHONE_WAN = "203.0.113.9"

# One DNS query for "localhost" (dnsmasq answers it from /etc/hosts, no upstream needed) from
# a chosen source address; prints the reply's rcode or "none".
_QUERY = """
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"\\x09localhost\\x00\\x00\\x01\\x00\\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(1.0)
for _ in range(3):
    s.sendto(q, (sys.argv[2], 53))
    try:
        data = s.recv(512)
    except TimeoutError:
        continue
    print(data[3] & 15 if data[:2] == q[:2] else "foreign")
    break
else:
    print("none")
"""


def _dnsmasq_running(router) -> bool:
    services = router.ubus("service", "list", {"name": "dnsmasq"})
    instances = services.get("dnsmasq", {}).get("instances", {})
    return any(i.get("running") for i in instances.values())


@pytest.fixture
def dnsmasq(router):
    """OpenWrt's dnsmasq service as a router runs it, with its default /etc/config/dhcp. The
    only changes: Debian's dnsmasq is built without ubus, and has no 'dnsmasq' group."""
    files = "/usr/share/openwrt-files/dnsmasq"
    router.sh(
        f"""set -e
        cp {files}/dnsmasq.init /etc/init.d/dnsmasq && chmod 0755 /etc/init.d/dnsmasq
        cp {files}/dnsmasq.conf /etc/dnsmasq.conf
        mkdir -p /usr/share/dnsmasq /usr/lib/dnsmasq
        cp {files}/rfc6761.conf {files}/dhcpbogushostname.conf /usr/share/dnsmasq/
        cp {files}/dhcp-script.sh /usr/lib/dnsmasq/
        grep -q '^dnsmasq:' /etc/group || echo 'dnsmasq:x:453:' >> /etc/group
        mkdir -p /tmp/resolv.conf.d && touch /tmp/resolv.conf.d/resolv.conf.auto  # as boot
        uci set dhcp.@dnsmasq[0].ubus=0
        uci set dhcp.lan.ignore=1
        uci commit dhcp
        /etc/init.d/dnsmasq enable
        /etc/init.d/dnsmasq start"""
    )
    wait_until(lambda: _dnsmasq_running(router), 20, what="dnsmasq running under procd")
    wait_until(lambda: ":53 " in router.run(["ss", "-Hulnp"]).stdout, 20, what="dnsmasq on :53")
    return router


@pytest.fixture
def phone(dnsmasq):
    """A netns on the router's WAN link holding a pool address, as a phone after its tunnel
    is up (no ESP here: the host kernel lacks it; the router routes the pool back to it)."""
    name = f"phone-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        dnsmasq.move_link("wan-p", name)

        def ip(*args):
            subprocess.run(["ip", "-n", name, *args], check=True, capture_output=True)

        ip("addr", "add", f"{PHONE_WAN}/24", "dev", "wan-p")
        ip("addr", "add", f"{POOL_CLIENT}/32", "dev", "wan-p")
        ip("link", "set", "wan-p", "up")
        ip("link", "set", "lo", "up")
        ip("route", "add", "192.168.1.0/24", "via", "203.0.113.2", "src", POOL_CLIENT)
        dnsmasq.run(["ip", "route", "add", f"{POOL_CLIENT}/32", "via", PHONE_WAN])
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _as_if_tunnelled(router) -> None:
    """There is no ESP in this kernel, so the phone's clear queries stand in for decapsulated
    ones: the running daemon's block of clear traffic from and to the pool (in/fwd/out XFRM
    policies; tests/system/test_attack_01_spoofed_pool.py proves it with ESP) is lifted for
    them (in: the query; out: dnsmasq's answer)."""

    def blocked() -> bool:
        return "action block" in router.run(["ip", "xfrm", "policy", "list", "dir", "in"]).stdout

    wait_until(blocked, 20, what="the daemon's block of clear pool traffic")
    router.run(["ip", "xfrm", "policy", "delete", "src", "10.10.10.0/24", "dst", "0.0.0.0/0",
                "dir", "in"])  # fmt: skip
    router.run(["ip", "xfrm", "policy", "delete", "src", "0.0.0.0/0", "dst", "10.10.10.0/24",
                "dir", "out"])  # fmt: skip


def _ask(phone: str, source: str = POOL_CLIENT) -> str:
    argv = ["ip", "netns", "exec", phone, "python3", "-c", _QUERY, source, LAN_DNS]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()


def test_the_pool_gets_answers_exactly_while_ikev2d_runs(installed, phone):
    router = installed
    dhcp = router.run(["uci", "show", "dhcp"]).stdout
    assert _ask(phone) == "none"  # not running: nothing open, nothing answered

    enable(router)
    wait_rules(router, 7)
    assert _ask(phone) == "none"  # clear traffic from the pool is not taken for a client's
    _as_if_tunnelled(router)
    assert _ask(phone) == "0"  # NOERROR: dnsmasq answered the pool

    router.run(["/etc/init.d/ikev2d", "stop"])
    wait_stopped(router)
    wait_rules(router, 0)
    assert _ask(phone) == "none"
    assert "lo:ikev2d" not in router.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout

    router.run(["/etc/init.d/ikev2d", "start"])  # started again, then disabled from LuCI
    wait_rules(router, 7)
    _as_if_tunnelled(router)
    assert _ask(phone) == "0"
    uci_commit(router, {"enabled": "0"})
    wait_stopped(router)
    assert "lo:ikev2d" not in router.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout

    # dnsmasq's own settings never changed: localservice stays on
    assert router.run(["uci", "show", "dhcp"]).stdout == dhcp
    assert "dhcp.@dnsmasq[0].localservice='1'" in dhcp


def test_dnsmasq_still_refuses_other_outside_sources(installed, phone):
    """Only the pool became local: another source on the WAN side stays refused by dnsmasq
    even when the firewall lets it through."""
    router = installed
    enable(router)
    router.run(
        ["nft", "insert", "rule", "inet", "fw4", "input_wan", "udp", "dport", "53", "accept"]
    )
    router.run(["ip", "route", "add", "10.99.0.5/32", "via", PHONE_WAN])
    subprocess.run(["ip", "-n", phone, "addr", "add", "10.99.0.5/32", "dev", "wan-p"], check=True)
    assert _ask(phone, "10.99.0.5") == "none"
    _as_if_tunnelled(router)
    assert _ask(phone) == "0"


def test_pool_change_moves_the_local_subnet(installed, phone):
    router = installed
    enable(router)
    uci_commit(router, {"pool": "10.20.30.0/24"})
    wait_until(
        lambda: "10.20.30.0/24" in router.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout,
        20,
        what="the new pool's address on lo",
    )
    assert "10.10.10.0/24" not in router.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout


def test_an_older_releases_change_is_put_back(router, packages):
    """ikev2d 0.1.0-r1 turned localservice off on every instance and kept the old value in
    ikev2d_localservice: installing this release restores it (and again changes nothing)."""
    router.run(["uci", "set", "dhcp.@dnsmasq[0].localservice=0"])
    router.run(["uci", "set", "dhcp.@dnsmasq[0].ikev2d_localservice=1"])
    router.run(["uci", "commit", "dhcp"])
    install_opkg(router, packages)
    assert router.run(["uci", "get", "dhcp.@dnsmasq[0].localservice"]).stdout.strip() == "1"
    probe = router.run(["uci", "-q", "get", "dhcp.@dnsmasq[0].ikev2d_localservice"], check=False)
    assert probe.returncode != 0
