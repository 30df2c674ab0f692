"""The parts of the datapath this machine's kernel can run (XFRM netlink, no ESP), in a netns."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest
from kernel_netns import in_netns as _in_netns
from kernel_netns import ip as _ip

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel.errors import XfrmError
from ikev2d.kernel.sockets import bypass_ike_socket, enable_udp_encap
from ikev2d.kernel.spis import SPI_RANGE
from ikev2d.kernel.xfrm import REQID_LARVAL, ChildTunnel, EspTransform, SaKeys, XfrmDatapath


def test_failed_install_rolls_back_and_flush_keeps_foreign(netns):
    _ip(netns, "xfrm", "policy", "add", "src", "10.9.0.0/24", "dst", "10.8.0.0/24", "dir", "out",
        "tmpl", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "reqid", "1",
        "mode", "tunnel")  # fmt: skip
    with _in_netns(netns):
        dp = XfrmDatapath()
    with dp:
        spi = dp.allocate_spi("192.0.2.2", "192.0.2.1")
        assert spi in SPI_RANGE
        assert "proto esp" not in _ip(netns, "xfrm", "state")  # no kernel call for an SPI
        tunnel = ChildTunnel(
            local="192.0.2.1", remote="192.0.2.2",
            inbound=SaKeys(spi, b"k" * 16, b"i" * 32),
            outbound=SaKeys(0xC1000001, b"k" * 16, b"i" * 32),
            transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
            local_ts=("10.1.0.0/24",), remote_ts=("10.10.10.5/32",), reqid=dp.allocate_reqid(),
        )  # fmt: skip
        # No ESP in this kernel: the SA is refused, with the kernel's own words.
        with pytest.raises(XfrmError) as info:
            dp.install_child(tunnel)
        assert info.value.operation == "NEWSA" and info.value.message
        assert _ip(netns, "xfrm", "policy").count("dir ") == 1  # only the foreign one
        # an earlier version's larval SA (ALLOCSPI with REQID_LARVAL) left by a crash
        _ip(netns, "xfrm", "state", "allocspi", "src", "192.0.2.2", "dst", "192.0.2.1",
            "proto", "esp", "mode", "tunnel", "reqid", str(REQID_LARVAL))  # fmt: skip
        assert dp.flush_owned() == 1
        assert "proto esp" not in _ip(netns, "xfrm", "state")
        assert "src 10.9.0.0/24 dst 10.8.0.0/24" in _ip(netns, "xfrm", "policy")
        assert dp.read_events() == []


def test_ike_socket_bypass_and_udp_encap(netns):
    with _in_netns(netns):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    with s4, s6:
        bypass_ike_socket(s4)
        bypass_ike_socket(s6)
        enable_udp_encap(s4)
        assert s4.getsockopt(socket.IPPROTO_UDP, 100) == 2
        policy = _ip(netns, "xfrm", "policy")
        assert policy.count("socket in") == 2 and policy.count("socket out") == 2
        assert "src 0.0.0.0/0 dst 0.0.0.0/0" in policy and "src ::/0 dst ::/0" in policy
        with _in_netns(netns), XfrmDatapath(listen=False) as dp:
            assert dp.flush_owned() == 0  # socket policies are never ours to flush
        assert _ip(netns, "xfrm", "policy").count("socket ") == 4


def test_batched_requests_report_each_ack_and_keep_going(netns):
    """install_child sends the outbound SA and the policies as one batch: every message gets
    its own ack, and one refusal neither hides nor stops the others."""
    from ikev2d.kernel import xfrm_build as b
    from ikev2d.kernel import xfrm_messages as m
    from ikev2d.kernel.netlink import NetlinkSocket

    tunnel = ChildTunnel(
        local="192.0.2.1", remote="192.0.2.2",
        inbound=SaKeys(0xC0000101, b"k" * 16, b"i" * 32),
        outbound=SaKeys(0xC1000101, b"k" * 16, b"i" * 32),
        transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        local_ts=("10.1.0.0/24",), remote_ts=("10.10.10.5/32",), reqid=0x1C2E0005,
    )  # fmt: skip
    specs = b.policy_specs(tunnel)
    s = specs[1]
    specs[1] = b.PolicySpec(7, s.src, s.dst, s.tmpl_src, s.tmpl_dst)  # no such direction: EINVAL
    with _in_netns(netns):
        nl = NetlinkSocket()
    try:
        batch = []
        for spec in specs:
            seq = nl.next_seq()
            batch.append((b.build_policy(spec, tunnel.reqid, m.XFRM_MSG.UPDPOLICY, seq), seq,
                          "UPDPOLICY"))  # fmt: skip
        results = nl.request_batch(batch)
    finally:
        nl.close()
    assert [r is None for r in results] == [True, False, True]
    assert isinstance(results[1], XfrmError) and results[1].operation == "UPDPOLICY"
    assert _ip(netns, "xfrm", "policy").count("dir ") == 2


def test_pool_block_policies_sit_below_client_policies_and_are_ours(netns):
    with _in_netns(netns):
        dp = XfrmDatapath(listen=False)
    with dp:
        dp.block_pool(["10.10.10.0/24", "fd00:1:2:3::/64"])
        policy = _ip(netns, "xfrm", "policy")
        blocks = [b for b in policy.split("src ")[1:] if "action block" in b]
        v6 = [b for b in blocks if "fd00:1:2:3::/64" in b.split("\n")[0]]
        blocks = [b for b in blocks if b not in v6]
        directions = {re.search(r"dir (\w+)", b).group(1): b.split("\n")[0] for b in blocks}
        assert len(blocks) == 3 and directions == {  # from the pool in and fwd, to it out
            "in": "10.10.10.0/24 dst 0.0.0.0/0 ", "fwd": "10.10.10.0/24 dst 0.0.0.0/0 ",
            "out": "0.0.0.0/0 dst 10.10.10.0/24 ",
        }, directions  # fmt: skip
        assert len(v6) == 3 and {re.search(r"dir (\w+)", b).group(1) for b in v6} == {
            "in",
            "fwd",
            "out",
        }
        # a client's policy (as install_child makes it) wins over the pool's block
        client = b.policy_priority(ipaddress.ip_network("10.10.10.5/32"),
                                   ipaddress.ip_network("0.0.0.0/0"))  # fmt: skip
        assert all(int(re.search(r"priority (\d+)", p).group(1)) > client for p in blocks)
        dp.block_pool(["10.20.0.0/16"])  # a new pool replaces the old blocks
        policy = _ip(netns, "xfrm", "policy")
        assert "10.10.10.0/24" not in policy and policy.count("action block") == 3
        assert dp.flush_owned() == 3  # ours: removed at start and stop like the rest
        assert "action block" not in _ip(netns, "xfrm", "policy")
        dp.block_pool(["10.10.10.0/24"])
        dp.block_pool([])
        assert "dir " not in _ip(netns, "xfrm", "policy")
