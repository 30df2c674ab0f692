"""ChildTunnel normalises its addresses and selectors; equal texts share one ipaddress object
(every client's tunnel names the same router address and LAN: no per-client copies)."""

from __future__ import annotations

import ipaddress

import pytest

from ikev2d.kernel.tunnel import OWNED_REQIDS, ChildTunnel, EspTransform, SaKeys

REQID = OWNED_REQIDS.start + 7


def _tunnel(remote_ts, remote="198.51.100.7", local_ts=("192.168.1.0/24",)) -> ChildTunnel:
    return ChildTunnel(
        local="192.0.2.1", remote=remote,
        inbound=SaKeys(0xC0000010, b"E" * 16, b"A" * 32),
        outbound=SaKeys(0xC0000020, b"e" * 16, b"a" * 32),
        transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        local_ts=local_ts, remote_ts=remote_ts, reqid=REQID,
    )  # fmt: skip


def test_equal_texts_share_objects_and_values_stay_right():
    a, b = _tunnel("10.10.10.5/32"), _tunnel("10.10.10.6/32", remote="198.51.100.8")
    assert a.local is b.local and a.local_ts[0] is b.local_ts[0]
    assert a.local_ts == (ipaddress.ip_network("192.168.1.0/24"),)
    assert a.remote_ts == (ipaddress.ip_network("10.10.10.5/32"),)
    assert b.remote_ts == (ipaddress.ip_network("10.10.10.6/32"),)
    assert b.remote == ipaddress.ip_address("198.51.100.8")


def test_objects_pass_through_and_bad_text_still_raises():
    net = ipaddress.ip_network("10.10.10.7/32")
    assert _tunnel((net,)).remote_ts[0] is net
    with pytest.raises(ValueError):
        _tunnel("10.10.10.300/32")
    with pytest.raises(ValueError):
        _tunnel("10.10.10.0/16")  # host bits set: strict, as before
