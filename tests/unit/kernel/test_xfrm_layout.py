"""XFRM structures against xfrm.h on x86_64: sizes, field offsets, whole messages byte for byte.

Expected bytes are built here with plain ``struct`` from the C layouts, independently of the
pyroute2 classes under test.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.tunnel import (
    OWNED_REQIDS,
    ChildTunnel,
    EspTransform,
    Lifetimes,
    SaKeys,
    UdpEncap,
)

INF = (1 << 64) - 1
HDR = 16
REQID = OWNED_REQIDS.start + 7


@pytest.mark.parametrize(
    ("cls", "size"),
    [
        (m.xfrm_usersa_info, 224),
        (m.xfrm_usersa_id, 24),
        (m.xfrm_userpolicy_info, 168),
        (m.xfrm_userpolicy_id, 64),
        (m.xfrm_user_expire, 232),
        (m.xfrm_user_polexpire, 176),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_struct_sizes_match_xfrm_h(cls, size):
    assert m.fields_size(cls) == size
    encoded = m.new_message(cls, 0x10, 1, 1, {})
    assert len(encoded) == HDR + size
    assert struct.unpack_from("=I", encoded)[0] == HDR + size


def _selector(daddr=b"", saddr=b"", fam=0, plen_d=0, plen_s=0) -> bytes:
    # daddr saddr dport dport_mask sport sport_mask family prefixlen_d/s proto ifindex user
    return struct.pack("=16s16s4HHBBB3xiI", daddr, saddr, 0, 0, 0, 0, fam, plen_d, plen_s, 0, 0, 0)


def test_selector_and_usersa_info_offsets():
    fields = {
        "sel_daddr": b"\x01" * 16,
        "sel_saddr": b"\x02" * 16,
        "sel_dport": 0x0304,
        "sel_family": 10,
        "sel_prefixlen_d": 24,
        "sel_prefixlen_s": 32,
        "sel_proto": 17,
        "sel_ifindex": -1,
        "sel_user": 1000,
        "id_daddr": b"\x0a" * 16,
        "id_spi": 0xC0000001,
        "id_proto": 50,
        "saddr": b"\x0b" * 16,
        "soft_byte_limit": 0x1111,
        "hard_use_expires_seconds": 0x2222,
        "cur_bytes": 0x3333,
        "cur_use_time": 0x4444,
        "stats_integrity_failed": 0x55,
        "seq": 0x66,
        "reqid": 0x77,
        "family": 2,
        "mode": 1,
        "replay_window": 32,
        "flags": 128,
    }
    body = m.new_message(m.xfrm_usersa_info, m.XFRM_MSG.NEWSA, 5, 9, fields)[HDR:]
    assert body[0:16] == b"\x01" * 16 and body[16:32] == b"\x02" * 16
    assert body[32:34] == b"\x03\x04"  # dport is network order
    assert struct.unpack_from("=H", body, 40)[0] == 10
    assert body[42:45] == bytes([24, 32, 17]) and body[45:48] == b"\0\0\0"
    assert struct.unpack_from("=iI", body, 48) == (-1, 1000)
    assert body[56:72] == b"\x0a" * 16  # xfrm_id at 56
    assert body[72:76] == b"\xc0\x00\x00\x01" and body[76] == 50
    assert body[80:96] == b"\x0b" * 16  # saddr
    assert struct.unpack_from("=Q", body, 96)[0] == 0x1111  # lft at 96
    assert struct.unpack_from("=Q", body, 96 + 56)[0] == 0x2222
    assert struct.unpack_from("=QQQQ", body, 160) == (0x3333, 0, 0, 0x4444)  # curlft at 160
    assert struct.unpack_from("=III", body, 192) == (0, 0, 0x55)  # stats at 192
    assert struct.unpack_from("=IIHBBB", body, 204) == (0x66, 0x77, 2, 1, 32, 128)
    assert body[217:224] == b"\0" * 7


def test_policy_id_spi_info_and_tmpl_offsets():
    pol = m.new_message(
        m.xfrm_userpolicy_info, 0x13, 5, 1, {"priority": 7, "index": 8, "dir": 2, "action": 1,
                                             "flags": 3, "share": 4, "hard_byte_limit": 9}
    )[HDR:]  # fmt: skip
    assert struct.unpack_from("=Q", pol, 56 + 8)[0] == 9  # lft at 56
    assert struct.unpack_from("=IIBBBB", pol, 152) == (7, 8, 2, 1, 3, 4)
    pid = m.new_message(m.xfrm_userpolicy_id, 0x14, 5, 1, {"index": 0x42, "dir": 1})[HDR:]
    assert struct.unpack_from("=IB", pid, 56) == (0x42, 1)
    sid = m.new_message(
        m.xfrm_usersa_id, 0x12, 1, 1, {"daddr": b"\x09" * 4, "spi": 0x1234, "family": 2,
                                       "proto": 50}
    )[HDR:]  # fmt: skip
    assert sid == b"\x09" * 4 + b"\0" * 12 + b"\x00\x00\x12\x34" + struct.pack("=HBx", 2, 50)
    tmpl = m.user_tmpl(id_daddr=b"\x01" * 16, id_spi=0xAB, id_proto=50, family=2,
                       saddr=b"\x02" * 16, reqid=0x99, mode=1, share=2, optional=3,
                       aalgos=4, ealgos=5, calgos=6)  # fmt: skip
    assert len(tmpl) == 64
    assert tmpl[16:20] == b"\0\0\0\xab" and tmpl[20] == 50
    assert struct.unpack_from("=H", tmpl, 24)[0] == 2 and tmpl[28:44] == b"\x02" * 16
    assert struct.unpack_from("=IBBBxIII", tmpl, 44) == (0x99, 1, 2, 3, 4, 5, 6)
    assert m.parse_user_tmpls(tmpl * 2 + b"\0" * 10)[1]["reqid"] == 0x99


def _nla(nla_type: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), nla_type) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _algo(name: bytes, key: bytes, extra: tuple[int, ...] = ()) -> bytes:
    return struct.pack(f"=64sI{len(extra)}I", name, len(key) * 8, *extra) + key


def _tunnel(transform: EspTransform, encap: UdpEncap | None = None, **kw) -> ChildTunnel:
    return ChildTunnel(
        local="192.0.2.1",
        remote="198.51.100.7",
        inbound=SaKeys(0xC0000010, b"E" * 16, b"A" * 32),
        outbound=SaKeys(0xC0000020, b"e" * 16, b"a" * 32),
        transform=transform,
        local_ts=("10.1.0.0/24",),
        remote_ts="10.10.10.5/32",
        reqid=REQID,
        encap=encap,
        **kw,
    )


def _expected_usersa(dst: bytes, spi: int, src: bytes, lft: tuple, replay: int, flags: int):
    return (
        _selector(fam=socket.AF_INET)
        + struct.pack("=16s4sB3x16s", dst, struct.pack(">I", spi), 50, src)
        + struct.pack("=8Q", *lft)
        + b"\0" * 32  # curlft
        + b"\0" * 12  # stats
        + struct.pack("=IIHBBB7x", 0, REQID, socket.AF_INET, 1, replay, flags)
    )


def test_newsa_cbc_hmac_with_encap_byte_for_byte():
    transform = EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128)
    tunnel = _tunnel(transform, UdpEncap(4500, 31000),
                     lifetimes=Lifetimes(soft_bytes=1000, hard_bytes=2000, soft_seconds=30,
                                         hard_seconds=60))  # fmt: skip
    got = b.build_sa(tunnel, inbound=False, msg_type=m.XFRM_MSG.NEWSA, seq=42)
    local, remote = bytes([192, 0, 2, 1]) + b"\0" * 12, bytes([198, 51, 100, 7]) + b"\0" * 12
    body = _expected_usersa(remote, 0xC0000020, local, (1000, 2000, INF, INF, 30, 60, 0, 0), 32, 0)
    body += _nla(m.XFRMA.ALG_CRYPT, _algo(b"cbc(aes)", b"e" * 16))
    body += _nla(m.XFRMA.ALG_AUTH_TRUNC, _algo(b"hmac(sha256)", b"a" * 32, (128,)))
    body += _nla(m.XFRMA.ENCAP, struct.pack("=H", 2) + struct.pack(">HH", 4500, 31000) + b"\0" * 18)
    expected = struct.pack("=IHHII", HDR + len(body), m.XFRM_MSG.NEWSA, 1 | 4, 42, 0) + body
    assert got == expected


def test_updsa_aead_esn_inbound_byte_for_byte():
    transform = EspTransform("rfc4106(gcm(aes))", icv_bits=128, esn=True, replay_window=64)
    tunnel = _tunnel(transform, UdpEncap(4500, 31000))
    got = b.build_sa(tunnel, inbound=True, msg_type=m.XFRM_MSG.UPDSA, seq=3)
    local, remote = bytes([192, 0, 2, 1]) + b"\0" * 12, bytes([198, 51, 100, 7]) + b"\0" * 12
    # ESN: legacy replay_window must be 0, the window goes into XFRMA_REPLAY_ESN_VAL.
    body = _expected_usersa(local, 0xC0000010, remote, (INF, INF, INF, INF, 0, 0, 0, 0), 0, 128)
    body += _nla(m.XFRMA.ALG_AEAD, _algo(b"rfc4106(gcm(aes))", b"E" * 16, (128,)))
    body += _nla(m.XFRMA.REPLAY_ESN_VAL, struct.pack("=6I", 2, 0, 0, 0, 0, 64) + b"\0" * 8)
    # inbound: the peer's port is the source
    body += _nla(m.XFRMA.ENCAP, struct.pack("=H", 2) + struct.pack(">HH", 31000, 4500) + b"\0" * 18)
    assert got == struct.pack("=IHHII", HDR + len(body), m.XFRM_MSG.UPDSA, 5, 3, 0) + body


def test_policies_out_in_fwd_with_templates_byte_for_byte():
    tunnel = _tunnel(EspTransform("rfc7539esp(chacha20,poly1305)", icv_bits=128))
    specs = b.policy_specs(tunnel)
    assert [(s.direction, str(s.src), str(s.dst)) for s in specs] == [
        (m.XFRM_POLICY_OUT, "10.1.0.0/24", "10.10.10.5/32"),
        (m.XFRM_POLICY_IN, "10.10.10.5/32", "10.1.0.0/24"),
        (m.XFRM_POLICY_FWD, "10.10.10.5/32", "10.1.0.0/24"),
    ]
    got = b.build_policy(specs[0], REQID, m.XFRM_MSG.UPDPOLICY, 8)
    prio = ((0x10000 - 24 - 32) << 2) + 3
    body = (
        _selector(bytes([10, 10, 10, 5]), bytes([10, 1, 0, 0]), socket.AF_INET, 32, 24)
        + struct.pack("=8Q", INF, INF, INF, INF, 0, 0, 0, 0)
        + b"\0" * 32
        + struct.pack("=IIBBBB4x", prio, 0, m.XFRM_POLICY_OUT, 0, 0, 0)
    )
    tmpl = struct.pack(
        "=16s4sB3xH2x16sIBBBxIII", bytes([198, 51, 100, 7]), b"\0" * 4, 50, socket.AF_INET,
        bytes([192, 0, 2, 1]), REQID, 1, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
    )  # fmt: skip
    body += _nla(m.XFRMA.TMPL, tmpl)
    assert got == struct.pack("=IHHII", HDR + len(body), m.XFRM_MSG.UPDPOLICY, 5, 8, 0) + body
    # in/fwd templates run remote -> local
    inbound = m.decode_message(m.xfrm_userpolicy_info, b.build_policy(specs[2], REQID, 0x19, 9))
    (t,) = inbound.get_attr("XFRMA_TMPL")["templates"]
    assert t["id_daddr"][:4] == bytes([192, 0, 2, 1]) and t["saddr"][:4] == bytes([198, 51, 100, 7])
    assert inbound["dir"] == m.XFRM_POLICY_FWD and b.owned_policy(inbound)


def test_longer_prefixes_get_higher_priority():
    net = ipaddress.ip_network
    host = b.policy_priority(net("10.1.0.0/24"), net("10.10.10.5/32"))
    wide = b.policy_priority(net("0.0.0.0/0"), net("10.10.10.5/32"))
    assert host < wide  # the kernel prefers the smaller value


def test_ipv6_pairs_only_with_ipv6():
    tunnel = ChildTunnel(
        local="2001:db8::1", remote="2001:db8::2",
        inbound=SaKeys(0x1000, b"k" * 20), outbound=SaKeys(0x2000, b"k" * 20),
        transform=EspTransform("rfc4106(gcm(aes))", icv_bits=128),
        local_ts=("10.1.0.0/24", "fd00::/64"), remote_ts=("10.10.10.5/32", "fd10::5/128"),
        reqid=REQID,
    )  # fmt: skip
    pairs = {(str(s.src), str(s.dst)) for s in b.policy_specs(tunnel)}
    assert pairs == {("10.1.0.0/24", "10.10.10.5/32"), ("10.10.10.5/32", "10.1.0.0/24"),
                     ("fd00::/64", "fd10::5/128"), ("fd10::5/128", "fd00::/64")}  # fmt: skip
    sa = m.decode_message(m.xfrm_usersa_info, b.build_sa(tunnel, True, 0x10, 1))
    assert (
        sa["family"] == socket.AF_INET6
        and sa["id_daddr"] == ipaddress.ip_address("2001:db8::1").packed
    )
    assert sa["sel_family"] == 0 and sa["flags"] & 32  # mixed inner families: AF_UNSPEC


def test_getsa_request():
    dst = ipaddress.ip_address("192.0.2.1")
    raw = b.build_getsa(dst, 0xC0000010, 5)
    assert raw[HDR:] == dst.packed + b"\0" * 12 + bytes.fromhex("c0000010") + b"\x02\x00\x32\x00"
