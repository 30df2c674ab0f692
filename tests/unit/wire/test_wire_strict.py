"""Malformed input: each case raises ParseError with a reason naming what is wrong."""

import struct

import pytest
import wire_samples as S

from ikev2d.wire.enums import ExchangeType, PayloadType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import Message, decode_message, decode_payloads, encode_message
from ikev2d.wire.payloads import UnknownPayload

HDR = S.header(ExchangeType.IKE_AUTH, 1, initiator=True, response=False)
T = PayloadType


def raw(ptype: int, body: bytes, *more: tuple[int, bytes]) -> bytes:
    """A message whose payloads are given as raw (type, body) pairs, generic headers built
    correctly, so only the body under test is malformed."""
    chain = [(ptype, body), *more]
    return encode_message(Message(HDR, tuple(UnknownPayload(t, False, b) for t, b in chain)))


def xf(ttype, tid, attrs=b"", more=0, length=None):
    return (
        struct.pack("!BxHBxH", more, 8 + len(attrs) if length is None else length, ttype, tid)
        + attrs
    )


XF_OK = xf(1, 12, b"\x80\x0e\x01\x00")


def prop(body_xfs=XF_OK, number=1, proto=1, spi=b"", count=1, more=0, length=None):
    n = 8 + len(spi) + len(body_xfs) if length is None else length
    return struct.pack("!BxHBBBB", more, n, number, proto, len(spi), count) + spi + body_xfs


def ts(count, *selectors):
    return struct.pack("!B3x", count) + b"".join(selectors)


def sel4(length=16):
    return struct.pack("!BBHHH", 7, 0, length, 0, 65535) + bytes(4) + b"\xff" * 4


def sel6(length=40):
    return struct.pack("!BBHHH", 8, 0, length, 0, 65535) + bytes(16) + b"\xff" * 16


def cp_attr(t, value):
    return struct.pack("!HH", t, len(value)) + value


def _good() -> bytes:
    return encode_message(S.sa_init_request())


def _with(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


CASES = [
    # -- header and chain ------------------------------------------------------------------
    ("empty", b"", "shorter than the IKE header"),
    ("27 bytes", _good()[:27], "shorter than the IKE header"),
    ("major version 1", _with(_good(), 17, "!B", 0x10), "major version 1"),
    ("major version 3", _with(_good(), 17, "!B", 0x30), "major version 3"),
    ("length too big", _with(_good(), 24, "!L", len(_good()) + 1), "header length"),
    ("trailing bytes", _good() + b"\x00", "header length"),
    ("truncated datagram", _good()[:-1], "header length"),
    ("payload length < 4", _with(_good(), 30, "!H", 3), "length 3"),
    ("payload length beyond end", _with(_good(), 30, "!H", 0xFFFF), "exceeds the message"),
    (
        "chain runs past end",
        _with(raw(T.VENDOR_ID, b"v"), 28, "!B", T.NOTIFY),
        "truncated generic payload header",
    ),
    (
        "bytes after last payload",
        _with(raw(T.VENDOR_ID, b"v", (T.VENDOR_ID, b"w")), 28, "!B", 0),
        "after the last payload",
    ),
    ("SK not last", raw(T.SK, b"x" * 20, (T.NOTIFY, b"\x00\x00\x40\x00")), "not the last"),
    ("SKF not last", raw(T.SKF, b"\x00\x01\x00\x01", (T.VENDOR_ID, b"v")), "not the last"),
    # -- SA ------------------------------------------------------------------------------
    ("SA empty", raw(T.SA, b""), "truncated proposal header"),
    ("proposal last/more 1", raw(T.SA, prop(more=1)), "last/more"),
    ("proposal length < 8", raw(T.SA, prop(length=7)), "proposal length 7"),
    ("proposal length beyond SA", raw(T.SA, prop(length=200)), "truncated proposal"),
    ("proposal more but none follows", raw(T.SA, prop(more=2)), "truncated proposal header"),
    ("bytes after last proposal", raw(T.SA, prop() + b"\x00" * 4), "after the last proposal"),
    ("proposal number 0", raw(T.SA, prop(number=0)), "proposal number 0"),
    ("proposal numbers skip", raw(T.SA, prop(more=2) + prop(number=3)), "out of sequence"),
    (
        "first of several not 1",
        raw(T.SA, prop(number=2, more=2) + prop(number=3)),
        "must be number 1",
    ),
    ("IKE SPI size 4", raw(T.SA, prop(spi=b"abcd")), "SPI size 4"),
    ("ESP SPI size 0", raw(T.SA, prop(proto=3)), "SPI size 0"),
    ("ESP SPI size 8", raw(T.SA, prop(proto=3, spi=b"12345678")), "SPI size 8"),
    ("no transforms", raw(T.SA, prop(body_xfs=b"", count=0)), "without transforms"),
    ("count too high", raw(T.SA, prop(count=2)), "disagrees"),
    (
        "count too high, more set",
        raw(T.SA, prop(body_xfs=xf(2, 5, more=3), count=2)),
        "truncated transform header",
    ),
    ("count too low", raw(T.SA, prop(body_xfs=xf(2, 5, more=3) + xf(3, 12), count=1)), "disagrees"),
    ("transform more on last", raw(T.SA, prop(body_xfs=xf(2, 5, more=3))), "disagrees"),
    ("transform last/more 1", raw(T.SA, prop(body_xfs=xf(2, 5, more=1))), "last/more"),
    (
        "bytes after last transform",
        raw(T.SA, prop(body_xfs=XF_OK + b"\0\0\0\0")),
        "after the last transform",
    ),
    ("transform length < 8", raw(T.SA, prop(body_xfs=xf(2, 5, length=4))), "transform length 4"),
    (
        "transform beyond proposal",
        raw(T.SA, prop(body_xfs=xf(2, 5, length=64))),
        "truncated transform attributes",
    ),
    (
        "KEY_LENGTH twice",
        raw(T.SA, prop(body_xfs=xf(1, 12, b"\x80\x0e\x01\x00" * 2))),
        "KEY_LENGTH",
    ),
    ("KEY_LENGTH as TLV", raw(T.SA, prop(body_xfs=xf(1, 12, b"\x00\x0e\x00\x00"))), "TLV"),
    (
        "attribute header cut",
        raw(T.SA, prop(body_xfs=xf(1, 12, b"\x80\x0e"))),
        "truncated transform attribute",
    ),
    (
        "TLV attribute beyond transform",
        raw(T.SA, prop(body_xfs=xf(1, 12, b"\x01\x00\x00\x09x"))),
        "truncated attribute value",
    ),
    # -- simple payloads ------------------------------------------------------------------
    ("KE short", raw(T.KE, b"\x00\x0e\x00"), "truncated KE header"),
    ("IDi short", raw(T.IDi, b"\x02\x00"), "truncated ID header"),
    ("IDr short", raw(T.IDr, b""), "truncated ID header"),
    ("AUTH short", raw(T.AUTH, b"\x02\x00\x00"), "truncated AUTH header"),
    ("CERT empty", raw(T.CERT, b""), "truncated CERT encoding"),
    ("CERTREQ empty", raw(T.CERTREQ, b""), "truncated CERT encoding"),
    ("nonce 15 bytes", raw(T.NONCE, bytes(15)), "nonce of 15 bytes"),
    ("nonce 257 bytes", raw(T.NONCE, bytes(257)), "nonce of 257 bytes"),
    ("notify short", raw(T.NOTIFY, b"\x00\x00\x40"), "truncated Notify header"),
    ("notify SPI size 3", raw(T.NOTIFY, b"\x03\x03\x40\x09abc"), "SPI size 3"),
    ("notify SPI cut", raw(T.NOTIFY, b"\x01\x08\x40\x09abcd"), "truncated Notify SPI"),
    ("delete short", raw(T.DELETE, b"\x03\x04\x00"), "truncated Delete header"),
    ("delete IKE with SPIs", raw(T.DELETE, b"\x01\x08\x00\x01" + bytes(8)), "IKE SA Delete"),
    ("delete ESP SPI size 8", raw(T.DELETE, b"\x03\x08\x00\x01" + bytes(8)), "SPI size 8"),
    ("delete count mismatch", raw(T.DELETE, b"\x03\x04\x00\x02" + bytes(4)), "2 SPIs"),
    ("delete extra bytes", raw(T.DELETE, b"\x03\x04\x00\x01" + bytes(5)), "1 SPIs"),
    # 8 bytes asking for 65,535 empty SPIs: 13 ms and 0.5 MB each, 64 of them in a 540-byte
    # IKE_SA_INIT took 0.85 s of CPU and 33 MB (found by make fuzz)
    ("delete many empty SPIs", raw(T.DELETE, b"\x00\x00\xff\xff"), "SPIs of 0 bytes"),
    ("delete ESP empty SPIs", raw(T.DELETE, b"\x03\x00\x00\x01"), "SPI size 0"),
    ("delete other empty SPIs", raw(T.DELETE, b"\x07\x00\x00\x02"), "SPIs of 0 bytes"),
    # -- TS ------------------------------------------------------------------------------
    ("TS short", raw(T.TSi, b"\x01\x00"), "truncated TS header"),
    ("TS zero selectors", raw(T.TSi, ts(0)), "no selectors"),
    ("TS count too high", raw(T.TSr, ts(2, sel4())), "truncated traffic selector header"),
    ("TS count too low", raw(T.TSr, ts(1, sel4(), sel4())), "after 1 traffic selectors"),
    ("TS v4 length 40", raw(T.TSi, ts(1, sel4(40) + bytes(24))), "with length 40"),
    ("TS v6 length 16", raw(T.TSi, ts(1, sel6(16))), "with length 16"),
    ("TS v4 cut", raw(T.TSi, ts(1, sel4()[:12])), "truncated selector"),
    ("TS unknown length 3", raw(T.TSi, ts(1, b"\x0a\x00\x00\x03")), "length 3 < 4"),
    ("TS unknown beyond", raw(T.TSi, ts(1, b"\x0a\x00\x00\x10ab")), "truncated selector"),
    # -- CP ------------------------------------------------------------------------------
    ("CP short", raw(T.CP, b"\x01"), "truncated CP header"),
    (
        "CP attribute header cut",
        raw(T.CP, b"\x01\0\0\0\x00\x01\x00"),
        "truncated configuration attribute",
    ),
    ("CP value beyond", raw(T.CP, b"\x01\0\0\0\x00\x07\x00\x09abc"), "truncated attribute value"),
    ("CP IP4 address 3 bytes", raw(T.CP, b"\x02\0\0\0" + cp_attr(1, b"abc")), "length 3"),
    ("CP IP6 address 16 bytes", raw(T.CP, b"\x02\0\0\0" + cp_attr(8, bytes(16))), "length 16"),
    ("CP IP4 subnet 4 bytes", raw(T.CP, b"\x02\0\0\0" + cp_attr(13, bytes(4))), "length 4"),
    ("CP IP6 DNS 17 bytes", raw(T.CP, b"\x02\0\0\0" + cp_attr(10, bytes(17))), "length 17"),
    # -- EAP ------------------------------------------------------------------------------
    ("EAP short", raw(T.EAP, b"\x01\x01\x00"), "truncated EAP header"),
    ("EAP length > payload", raw(T.EAP, b"\x02\x01\x00\x0a\x01dave"), "EAP length 10"),
    ("EAP length < payload", raw(T.EAP, b"\x02\x01\x00\x05\x01dave"), "EAP length 5"),
    ("EAP success with data", raw(T.EAP, b"\x03\x01\x00\x05\x01"), "Success/Failure"),
    ("EAP request without type", raw(T.EAP, b"\x01\x01\x00\x04"), "truncated EAP type"),
    # -- SKF -----------------------------------------------------------------------------
    ("SKF short", raw(T.SKF, b"\x00\x01\x00"), "truncated SKF header"),
    ("SKF number 0", raw(T.SKF, b"\x00\x00\x00\x02data"), "fragment number 0 of 2"),
    ("SKF number > total", raw(T.SKF, b"\x00\x03\x00\x02data"), "fragment number 3 of 2"),
]


@pytest.mark.parametrize(("name", "data", "reason"), CASES, ids=[c[0] for c in CASES])
def test_malformed_raises_parse_error(name, data, reason):
    with pytest.raises(ParseError) as info:
        decode_message(data)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason


def test_cases_are_minimal_edits_of_valid_input():
    """Guard the table itself: the helpers produce messages that decode when well-formed."""
    good = [
        raw(T.SA, prop()),
        raw(T.SA, prop(more=2) + prop(number=2)),
        raw(T.SA, prop(proto=3, spi=b"abcd")),
        raw(T.SA, prop(body_xfs=xf(2, 5, more=3) + xf(3, 12), count=2)),
        raw(T.TSi, ts(2, sel4(), sel6())),
        raw(T.TSi, ts(1, b"\x0a\x00\x00\x06ab")),
        raw(T.CP, b"\x01\0\0\0" + cp_attr(1, b"") + cp_attr(8, b"") + cp_attr(13, bytes(8))),
        raw(T.EAP, b"\x02\x01\x00\x09\x01dave"),
        raw(T.EAP, b"\x03\x01\x00\x04"),
        raw(T.DELETE, b"\x03\x04\x00\x02" + bytes(8)),
        raw(T.DELETE, b"\x01\x00\x00\x00"),
        raw(T.NOTIFY, b"\x03\x04\x40\x09abcd"),
        raw(T.NONCE, bytes(16)),
        raw(T.NONCE, bytes(256)),
        raw(T.SKF, b"\x00\x02\x00\x02data"),
    ]
    for data in good:
        assert encode_message(decode_message(data)) == data


def test_nested_encrypted_payload_rejected_inside_sk():
    with pytest.raises(ParseError, match="inside an encrypted payload"):
        decode_payloads(T.SK, b"\x00\x00\x00\x08abcd")


def test_decode_payloads_checks_the_chain():
    with pytest.raises(ParseError, match="truncated generic payload header"):
        decode_payloads(T.NOTIFY, b"")
    with pytest.raises(ParseError, match="after the last payload"):
        decode_payloads(T.VENDOR_ID, b"\x00\x00\x00\x05v\x00")
