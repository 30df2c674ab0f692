"""kernel.xfrm.XfrmDatapath against a kernel with ESP: real tunnels between two netns.

Run with:
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_xfrm_datapath.py

Topology (own fixture, independent of the shared harness)::

    ns "srv"  192.0.2.1 ──veth── 192.0.2.2  ns "cli"
    LAN 10.1.0.1/32 on lo                   virtual IP 10.10.10.5/32 on lo

Both sides are installed by our datapath (each one a mirror of the other), then ping crosses.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import socket
import subprocess
import time

import pytest

from ikev2d.kernel.sockets import bypass_ike_socket, enable_udp_encap
from ikev2d.kernel.xfrm import (
    ChildTunnel,
    EspTransform,
    Lifetimes,
    SaExpired,
    SaKeys,
    UdpEncap,
    XfrmDatapath,
)

pytestmark = pytest.mark.espvm

SRV, CLI = "192.0.2.1", "192.0.2.2"
LAN_IP, LAN_NET, VIP = "10.1.0.1", "10.1.0.0/24", "10.10.10.5"
CLONE_NEWNET = 0x40000000

# name -> (transform, encryption key bytes incl. salt, integrity key bytes)
SUITES = {
    "aes-cbc+hmac-sha256": (
        EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        16,
        32,
    ),
    "aes-gcm-16": (
        EspTransform("rfc4106(gcm(aes))", icv_bits=128, esn=True, replay_window=128),
        20,
        0,
    ),
    "chacha20poly1305": (EspTransform("rfc7539esp(chacha20,poly1305)", icv_bits=128), 36, 0),
}


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


@contextlib.contextmanager
def _in_netns(name: str):
    """Run the block in netns `name` (sockets opened inside stay bound to it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net") as home, open(f"/run/netns/{name}") as target:
        if libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")


class Side:
    def __init__(self, ns: str) -> None:
        self.ns = ns
        with _in_netns(ns):
            self.dp = XfrmDatapath()

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run("ip", "-n", self.ns, *args, check=check)

    def udp4500(self, addr: str, port: int = 4500) -> socket.socket:
        with _in_netns(self.ns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((addr, port))
        bypass_ike_socket(sock)
        enable_udp_encap(sock)
        return sock


@pytest.fixture
def pair():
    tag = f"{os.getpid() % 100000}"
    names = (f"ikxs{tag}", f"ikxc{tag}")
    for name in names:
        _run("ip", "netns", "add", name)
    sides: list[Side] = []
    try:
        srv_ns, cli_ns = names
        _run(
            "ip",
            "link",
            "add",
            "v0",
            "netns",
            srv_ns,
            "type",
            "veth",
            "peer",
            "v0",
            "netns",
            cli_ns,
        )
        for ns, outer, inner, route, via in (
            (srv_ns, SRV, LAN_IP, f"{VIP}/32", CLI),
            (cli_ns, CLI, VIP, LAN_NET, SRV),
        ):
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", "v0", "up")
            _run("ip", "-n", ns, "addr", "add", f"{outer}/24", "dev", "v0")
            _run("ip", "-n", ns, "addr", "add", f"{inner}/32", "dev", "lo")
            _run("ip", "-n", ns, "route", "add", route, "via", via, "src", inner)
        sides = [Side(srv_ns), Side(cli_ns)]
        yield sides
    finally:
        for side in sides:
            side.dp.close()
        for name in names:
            _run("ip", "netns", "del", name, check=False)


def _tunnels(srv: Side, cli: Side, suite: str, encap: bool, **extra):
    transform, elen, ilen = SUITES[suite]
    k1 = SaKeys(srv.dp.allocate_spi(CLI, SRV), os.urandom(elen), os.urandom(ilen))
    k2 = SaKeys(cli.dp.allocate_spi(SRV, CLI), os.urandom(elen), os.urandom(ilen))
    udp = UdpEncap(4500, 4500) if encap else None
    srv_t = ChildTunnel(local=SRV, remote=CLI, inbound=k1, outbound=k2, transform=transform,
                        local_ts=(LAN_NET,), remote_ts=(f"{VIP}/32",),
                        reqid=srv.dp.allocate_reqid(), encap=udp, **extra)  # fmt: skip
    cli_t = ChildTunnel(local=CLI, remote=SRV, inbound=k2, outbound=k1, transform=transform,
                        local_ts=(f"{VIP}/32",), remote_ts=(LAN_NET,),
                        reqid=cli.dp.allocate_reqid(), encap=udp, **extra)  # fmt: skip
    return srv_t, cli_t


def _ping(cli: Side, count: int = 3) -> subprocess.CompletedProcess:
    return _run("ip", "netns", "exec", cli.ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2",
                "-I", VIP, LAN_IP, check=False)  # fmt: skip


@pytest.mark.parametrize("encap", [False, True], ids=["esp", "espinudp"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_tunnel_carries_ping_and_counts(pair, suite, encap):
    srv, cli = pair
    socks = [srv.udp4500(SRV), cli.udp4500(CLI)] if encap else []
    try:
        srv_t, cli_t = _tunnels(srv, cli, suite, encap)
        srv.dp.install_child(srv_t)
        cli.dp.install_child(cli_t)
        before = srv.dp.all_counters()
        assert before[srv_t.inbound.spi] == before[srv_t.outbound.spi] == (0, 0)

        ping = _ping(cli)
        assert ping.returncode == 0, ping.stdout + ping.stderr

        table = srv.dp.all_counters()  # one dump, as the daemon's status reads them
        (bytes_in, packets_in), (bytes_out, packets_out) = (
            table[srv_t.inbound.spi], table[srv_t.outbound.spi],
        )  # fmt: skip
        assert packets_in >= 3 and packets_out >= 3
        assert bytes_in >= 3 * 84 and bytes_out >= 3 * 84
        mirror = cli.dp.all_counters()
        assert mirror[cli_t.outbound.spi][1] == packets_in
        assert mirror[cli_t.inbound.spi][1] == packets_out

        state = srv.ip("xfrm", "state").stdout
        assert f"spi {srv_t.inbound.spi:#010x} reqid {srv_t.reqid} mode tunnel" in state
        assert f"spi {srv_t.outbound.spi:#010x} reqid {srv_t.reqid} mode tunnel" in state
        assert SUITES[suite][0].encr in state
        assert ("encap type espinudp sport 4500 dport 4500" in state) == encap
        policy = srv.ip("xfrm", "policy").stdout
        for direction, sel in (("out", f"src {LAN_NET} dst {VIP}/32"),
                               ("in", f"src {VIP}/32 dst {LAN_NET}"),
                               ("fwd", f"src {VIP}/32 dst {LAN_NET}")):  # fmt: skip
            assert re.search(rf"{re.escape(sel)} \n\tdir {direction} priority \d+", policy), policy
        assert policy.count(f"reqid {srv_t.reqid} mode tunnel") == 3
    finally:
        for sock in socks:
            sock.close()


def test_remove_and_flush_leave_foreign_state_alone(pair):
    srv, cli = pair
    # A foreign SA and policy (say a strongSwan in the same netns): reqid 1.
    srv.ip("xfrm", "state", "add", "src", CLI, "dst", SRV, "proto", "esp", "spi", "0x1000",
           "reqid", "1", "mode", "tunnel",
           "aead", "rfc4106(gcm(aes))", "0x" + "11" * 20, "128")  # fmt: skip
    srv.ip("xfrm", "policy", "add", "src", "10.9.0.0/24", "dst", "10.8.0.0/24", "dir", "out",
           "tmpl", "src", SRV, "dst", CLI, "proto", "esp", "reqid", "1",
           "mode", "tunnel")  # fmt: skip

    srv_t, cli_t = _tunnels(srv, cli, "aes-gcm-16", encap=False)
    srv.dp.install_child(srv_t)
    cli.dp.install_child(cli_t)
    srv.dp.remove_child(srv_t)
    srv.dp.remove_child(srv_t)  # a second removal is not an error
    state, policy = srv.ip("xfrm", "state").stdout, srv.ip("xfrm", "policy").stdout
    assert "reqid 1 " in state and "spi 0x00001000" in state
    assert f"reqid {srv_t.reqid}" not in state and f"reqid {srv_t.reqid}" not in policy
    assert "src 10.9.0.0/24 dst 10.8.0.0/24" in policy

    # A daemon that crashed leaves its tunnel; the next run flushes it (an SPI handed out
    # for a Child SA not installed yet is nothing in the kernel).
    srv.dp.install_child(_tunnels(srv, cli, "aes-gcm-16", encap=False)[0])
    srv.dp.allocate_spi(CLI, SRV)
    with _in_netns(srv.ns), XfrmDatapath(listen=False) as restarted:
        assert restarted.flush_owned() == 2 + 3  # 2 SAs, 3 policies
    state, policy = srv.ip("xfrm", "state").stdout, srv.ip("xfrm", "policy").stdout
    assert state.count("\tproto esp") == 1 and "spi 0x00001000" in state
    assert policy.count("dir ") == 1 and "src 10.9.0.0/24 dst 10.8.0.0/24" in policy


def test_shared_policies_survive_removal_of_the_old_child(pair):
    """A rekey installs a new child with the same selectors before removing the old one."""
    srv, cli = pair
    old, _ = _tunnels(srv, cli, "chacha20poly1305", encap=False)
    new, _ = _tunnels(srv, cli, "chacha20poly1305", encap=False)
    srv.dp.install_child(old)
    srv.dp.install_child(new)
    sent = []
    real_send = srv.dp._nl._send
    srv.dp._nl._send = lambda data, operation: sent.append(operation) or real_send(data, operation)
    srv.dp.remove_child(old)
    policy = srv.ip("xfrm", "policy").stdout
    assert policy.count("dir ") == 3 and f"reqid {new.reqid} mode tunnel" in policy
    srv.dp.remove_child(new)
    assert "dir " not in srv.ip("xfrm", "policy").stdout
    assert "proto esp" not in srv.ip("xfrm", "state").stdout
    assert sent == ["batch", "batch"]  # each removal is one round trip (2 SAs + 3 policies)


def test_expire_events_reach_the_poll_loop(pair):
    srv, cli = pair
    srv_t, _ = _tunnels(srv, cli, "aes-cbc+hmac-sha256", encap=False,
                        lifetimes=Lifetimes(soft_seconds=1, hard_seconds=2))  # fmt: skip
    srv.dp.install_child(srv_t)
    assert srv.dp.read_events() == []  # nothing queued: returns at once
    seen: dict[tuple[int, bool], SaExpired] = {}
    deadline = time.monotonic() + 15
    while len(seen) < 4 and time.monotonic() < deadline:
        ready, _, _ = select.select([srv.dp.fileno()], [], [], 1.0)
        if ready:
            for event in srv.dp.read_events():
                assert isinstance(event, SaExpired) and event.reqid == srv_t.reqid
                seen[(event.spi, event.hard)] = event
    spis = (srv_t.inbound.spi, srv_t.outbound.spi)
    assert set(seen) == {(spi, hard) for spi in spis for hard in (False, True)}
    assert "proto esp" not in srv.ip("xfrm", "state").stdout  # hard expiry removed them


CLI2 = "192.0.2.3"  # the client's address after it moved


def _oseq(side: Side, spi: int) -> int:
    """The outbound sequence number of SA `spi` (ip -s xfrm state)."""
    state = side.ip("-s", "xfrm", "state", "get", "src", "0.0.0.0", "dst", "0.0.0.0", "proto",
                    "esp", "spi", hex(spi), check=False).stdout  # fmt: skip
    if not state:
        state = side.ip("-s", "xfrm", "state").stdout
        state = next(b for b in state.split("src ") if f"spi {spi:#010x}" in b)
    return int(re.search(r"oseq (0x[0-9a-f]+)", state).group(1), 16)


@pytest.mark.parametrize("encap", [False, True], ids=["esp", "espinudp"])
@pytest.mark.parametrize("method", ["migrate", "re-add"])
def test_client_moves_tunnel_follows_with_sequence_numbers(pair, method, encap):
    """MOBIKE: the client's outer address changes; both ends move the tunnel (same SPIs and
    keys) and ping goes on. The sequence numbers continue: our outbound SA does not restart
    at 1 (the client's replay window would drop that) with either method."""
    srv, cli = pair
    socks = [srv.udp4500(SRV), cli.udp4500(CLI)] if encap else []
    try:
        srv_t, cli_t = _tunnels(srv, cli, "aes-cbc+hmac-sha256", encap)
        srv.dp.install_child(srv_t)
        cli.dp.install_child(cli_t)
        assert _ping(cli, 5).returncode == 0
        sent = _oseq(srv, srv_t.outbound.spi)
        assert sent >= 5
        # the client moves to CLI2 (new address, and behind a "NAT" a new source port)
        cli.ip("addr", "add", f"{CLI2}/24", "dev", "v0")
        cli.ip("route", "replace", LAN_NET, "via", SRV, "src", VIP)
        udp2 = UdpEncap(4500, 4501) if encap else None
        srv_new = srv_t.replace(remote=CLI2, encap=udp2)
        cli_new = cli_t.replace(local=CLI2, encap=UdpEncap(4501, 4500) if encap else None)
        if encap:
            socks.append(cli.udp4500(CLI2, 4501))
        if method == "re-add":
            srv.dp._mover.migrate_works = cli.dp._mover.migrate_works = False
        assert srv.dp.update_child(srv_t, srv_new) == method
        assert cli.dp.update_child(cli_t, cli_new) == method
        ping = _ping(cli, 5)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert _oseq(srv, srv_t.outbound.spi) >= sent + 5  # continued, not restarted
        state = srv.ip("xfrm", "state").stdout
        assert f"src {SRV} dst {CLI2}" in state and f"src {CLI2} dst {SRV}" in state
        assert f"dst {CLI} " not in state and f"src {CLI} " not in state
        assert ("sport 4500 dport 4501" in state) == encap
        policy = srv.ip("xfrm", "policy").stdout
        assert policy.count(f"tmpl src {SRV} dst {CLI2}") == 1
        assert policy.count(f"tmpl src {CLI2} dst {SRV}") == 2
        # lifetime counters carried
        assert srv.dp.all_counters()[srv_new.outbound.spi][1] >= 10
        srv.dp.remove_child(srv_new)
        assert "proto esp" not in srv.ip("xfrm", "state").stdout
        assert "dir " not in srv.ip("xfrm", "policy").stdout
    finally:
        for sock in socks:
            sock.close()


def test_deferred_outbound_install(pair):
    """The responder of a rekey adds the new inbound SA first, the outbound one later."""
    srv, cli = pair
    srv_t, cli_t = _tunnels(srv, cli, "aes-gcm-16", encap=False)
    srv.dp.install_child(srv_t, outbound=False)
    state = srv.ip("xfrm", "state").stdout
    assert f"spi {srv_t.inbound.spi:#010x}" in state
    assert f"spi {srv_t.outbound.spi:#010x}" not in state
    srv.dp.install_outbound(srv_t)
    cli.dp.install_child(cli_t)
    assert _ping(cli, 2).returncode == 0
