"""Parsing what the kernel sends: SA replies, expire multicasts, acks with extended messages."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

from ikev2d.kernel import netlink as nl
from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.errors import XfrmError
from ikev2d.kernel.tunnel import OWNED_REQIDS, PolicyExpired, SaExpired

REQID = OWNED_REQIDS.start + 3


def _usersa(spi: int, reqid: int, cur_bytes: int, cur_packets: int) -> bytes:
    """A kernel-made xfrm_usersa_info (struct layout straight from xfrm.h)."""
    return (
        struct.pack("=16s16s4HHBBB3xiI", b"", b"", 0, 0, 0, 0, 2, 0, 0, 0, 0, 0)
        + struct.pack("=16s4sB3x16s", bytes([192, 0, 2, 1]), struct.pack(">I", spi), 50, b"")
        + b"\0" * 64
        + struct.pack("=4Q", cur_bytes, cur_packets, 1700000000, 0)
        + b"\0" * 12
        + struct.pack("=IIHBBB7x", 0, reqid, socket.AF_INET, 1, 32, 0)
    )


def _msg(mtype: int, body: bytes, seq: int = 0, flags: int = 0) -> bytearray:
    return bytearray(struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body)


def test_newsa_reply_round_trip_with_algorithms():
    key = bytes(range(20))
    aead = struct.pack("=64sII", b"rfc4106(gcm(aes))", 160, 128) + key
    attr = struct.pack("=HH", 4 + len(aead), m.XFRMA.ALG_AEAD) + aead
    buf = _msg(m.XFRM_MSG.NEWSA, _usersa(0xC0001234, REQID, 4200, 42) + attr)
    sa = m.decode_message(m.xfrm_usersa_info, buf)
    assert (sa["id_spi"], sa["reqid"], sa["cur_bytes"], sa["cur_packets"]) == (
        0xC0001234, REQID, 4200, 42,
    )  # fmt: skip
    algo = sa.get_attr("XFRMA_ALG_AEAD")
    assert algo["alg_name"] == "rfc4106(gcm(aes))" and algo["alg_icv_len"] == 128
    assert algo["alg_key"] == key


def test_expire_event_for_our_sa():
    body = _usersa(0xC0000042, REQID, 1000, 10) + b"\x01" + b"\0" * 7  # hard=1
    buf = _msg(m.XFRM_MSG.EXPIRE, body)
    assert b.parse_event(m.XFRM_MSG.EXPIRE, buf, 0) == SaExpired(
        spi=0xC0000042, dst=ipaddress.ip_address("192.0.2.1"), reqid=REQID, hard=True,
        bytes=1000, packets=10,
    )  # fmt: skip


def test_expire_event_of_foreign_sa_is_ignored():
    buf = _msg(m.XFRM_MSG.EXPIRE, _usersa(0xC0000042, 1, 0, 0) + b"\0" * 8)
    assert b.parse_event(m.XFRM_MSG.EXPIRE, buf, 0) is None
    assert b.parse_event(m.XFRM_MSG.NEWSA, buf, 0) is None


def test_policy_expire_event():
    pol = b"\0" * 152 + struct.pack("=IIBBBB4x", 5, 0x99, 1, 0, 0, 0)
    tmpl = m.user_tmpl(reqid=REQID, id_proto=50)
    body = pol + b"\0" + b"\0" * 7 + struct.pack("=HH", 4 + 64, m.XFRMA.TMPL) + tmpl
    buf = _msg(m.XFRM_MSG.POLEXPIRE, body)
    assert b.parse_event(m.XFRM_MSG.POLEXPIRE, buf, 0) == PolicyExpired(1, 0x99, False)
    foreign = _msg(m.XFRM_MSG.POLEXPIRE, pol + b"\0" * 8)  # no template at all
    assert b.parse_event(m.XFRM_MSG.POLEXPIRE, foreign, 0) is None


def test_error_ack_with_extended_message():
    text = b"Requested type not found\0"
    tlv = struct.pack("=HH", 4 + len(text), nl.NLMSGERR_ATTR_MSG) + text + b"\0" * 3
    orig = struct.pack("=IHHII", 256, m.XFRM_MSG.NEWSA, 5, 9, 0)  # capped: header only
    buf = _msg(nl.NLMSG_ERROR, struct.pack("=i", -errno.ENOENT) + orig + tlv, 9,
               nl.NLM_F_CAPPED | nl.NLM_F_ACK_TLVS)  # fmt: skip
    assert nl.parse_error(buf, 0) == (errno.ENOENT, "Requested type not found")
    exc = XfrmError.from_errno(errno.ENOENT, "NEWSA", "Requested type not found")
    assert exc.not_found and exc.operation == "NEWSA" and exc.errno == errno.ENOENT
    assert str(exc) == "XFRM NEWSA failed: Requested type not found (ENOENT)"
    plain = _msg(nl.NLMSG_ERROR, struct.pack("=i", -errno.EEXIST) + orig)
    assert nl.parse_error(plain, 0) == (errno.EEXIST, None)
    assert str(XfrmError.from_errno(errno.EEXIST, "NEWSA")).startswith("XFRM NEWSA failed: File")


def test_iter_messages_stops_at_truncation():
    one = _msg(m.XFRM_MSG.NEWSA, b"\0" * 8, seq=1)
    two = _msg(m.XFRM_MSG.NEWSA, b"\0" * 8, seq=2)
    assert [seq for _, _, seq, _ in nl.iter_messages(one + two)] == [1, 2]
    broken = one + two[:-4]  # second claims more bytes than the datagram holds
    assert [seq for _, _, seq, _ in nl.iter_messages(broken)] == [1]
    zero_len = one + struct.pack("=IHHII", 0, 0, 0, 3, 0)
    assert [seq for _, _, seq, _ in nl.iter_messages(zero_len)] == [1]
