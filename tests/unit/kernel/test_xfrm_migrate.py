"""XFRM_MSG_MIGRATE and re-added SAs carrying their replay state, byte for byte.

Expected bytes come from plain ``struct`` over xfrm.h's layouts, not from the classes tested.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from kernel_values import REQID, make_tunnel

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.tunnel import EspTransform, SaKeys

HDR = 16
ip = ipaddress.ip_address


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    found = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        found[kind] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def _addr(text: str) -> bytes:
    return ip(text).packed.ljust(16, b"\0")


def test_migrate_message_layout():
    spec = b.PolicySpec(
        m.XFRM_POLICY_OUT,
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("10.10.10.5/32"),
        ip("198.51.100.1"),
        ip("192.0.2.2"),
    )
    move = b.Move(ip("198.51.100.1"), ip("192.0.2.2"), ip("198.51.100.1"), ip("192.0.2.9"), REQID)
    data = b.build_migrate(spec, [move], (4500, 61234), 77)
    length, mtype, flags, seq = struct.unpack_from("=IHHI", data)
    assert (length, mtype, flags, seq) == (len(data), 0x21, 0x5, 77)
    # xfrm_userpolicy_id: the selector, index 0, dir out
    sel = data[HDR : HDR + 56]
    assert sel[:16] == _addr("10.10.10.5") and sel[16:32] == _addr("192.168.1.0")
    assert struct.unpack_from("=HBB", sel, 40) == (socket.AF_INET, 32, 24)
    assert struct.unpack_from("=IB", data, HDR + 56) == (0, m.XFRM_POLICY_OUT)
    attrs = _attrs(data, HDR + 64)
    expected = (
        _addr("192.0.2.2") + _addr("198.51.100.1") + _addr("192.0.2.9") + _addr("198.51.100.1")
        + struct.pack("=BBxxIHH", 50, 1, REQID, socket.AF_INET, socket.AF_INET)
    )  # fmt: skip
    assert attrs[m.XFRMA.MIGRATE] == expected and len(expected) == 76
    encap = attrs[m.XFRMA.ENCAP]
    assert struct.unpack_from("=H", encap)[0] == m.UDP_ENCAP_ESPINUDP
    assert struct.unpack_from(">HH", encap, 2) == (4500, 61234)
    assert m.XFRMA.ENCAP not in _attrs(b.build_migrate(spec, [move], None, 1), HDR + 64)


def test_readded_sa_carries_sequence_numbers_and_counters():
    runtime = b.SaRuntime(
        replay={"oseq": 1234, "seq": 987, "bitmap": 0xFFFF0000},
        esn=None,
        lifetime={"cur_bytes": 5000, "cur_packets": 50, "cur_add_time": 1700000000,
                  "cur_use_time": 1700000005},
    )  # fmt: skip
    data = b.build_sa(make_tunnel(), False, m.XFRM_MSG.NEWSA, 3, runtime)
    attrs = _attrs(data, HDR + m.fields_size(m.xfrm_usersa_info))
    assert struct.unpack("=III", attrs[m.XFRMA.REPLAY_VAL]) == (1234, 987, 0xFFFF0000)
    assert struct.unpack("=QQQQ", attrs[m.XFRMA.LTIME_VAL]) == (5000, 50, 1700000000, 1700000005)
    fresh = _attrs(b.build_sa(make_tunnel(), False, m.XFRM_MSG.NEWSA, 3), HDR + 224)
    assert m.XFRMA.REPLAY_VAL not in fresh and m.XFRMA.LTIME_VAL not in fresh


def test_readded_esn_sa_carries_its_sequence_numbers():
    gcm = EspTransform("rfc4106(gcm(aes))", icv_bits=128, esn=True, replay_window=128)
    t = make_tunnel(
        transform=gcm, inbound=SaKeys(0xC0000001, b"k" * 20), outbound=SaKeys(0xC1000002, b"K" * 20)
    )
    runtime = b.SaRuntime(None, {"oseq": 7, "seq": 5, "oseq_hi": 1, "seq_hi": 2}, None)
    attrs = _attrs(b.build_sa(t, False, m.XFRM_MSG.NEWSA, 3, runtime), HDR + 224)
    bmp_len, oseq, seq, oseq_hi, seq_hi, window = struct.unpack_from("=6I", attrs[23])
    assert (bmp_len, oseq, seq, oseq_hi, seq_hi, window) == (4, 7, 5, 1, 2, 128)


def test_sa_runtime_from_a_getsa_reply():
    """Decode what the kernel answers to GETSA: replay state and current lifetime."""
    msg = m.new_message(
        m.xfrm_usersa_info, m.XFRM_MSG.NEWSA, 0, 1,
        {"cur_bytes": 10, "cur_packets": 2, "cur_add_time": 3, "cur_use_time": 4},
        [("XFRMA_REPLAY_VAL", {"oseq": 42, "seq": 41, "bitmap": 3})],
    )  # fmt: skip
    rt = b.sa_runtime(m.decode_message(m.xfrm_usersa_info, msg))
    assert rt.replay == {"oseq": 42, "seq": 41, "bitmap": 3} and rt.esn is None
    assert rt.lifetime == {"cur_bytes": 10, "cur_packets": 2, "cur_add_time": 3,
                           "cur_use_time": 4}  # fmt: skip
