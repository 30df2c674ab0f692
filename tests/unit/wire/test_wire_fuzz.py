"""Property tests: whatever the bytes, decoding either succeeds or raises ParseError."""

import contextlib
import struct

import wire_samples as S
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ikev2d.wire.enums import PayloadType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import (
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
    peek_header,
)
from ikev2d.wire.nat_t import split_udp4500

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [encode_message(m) for _, m in S.all_messages()]
VALID += [
    encode_message(
        S.Message(S.header(S.ExchangeType.IKE_AUTH, 1, initiator=True, response=False), c)
    )
    for _, c in S.all_inner_chains()
]


def _decode_ok_or_parse_error(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except ParseError as e:
        assert isinstance(e.reason, str) and e.reason
        return
    # Whatever decodes re-encodes to the same bytes when reserved bits were zero; at the
    # very least it re-encodes and decodes again to the same objects.
    again = encode_message(msg)
    assert decode_message(again).payloads == msg.payloads
    for p in msg.payloads:  # typed helpers stay within ParseError too
        for helper in ("value", "uint16_list", "requested_group", "address", "message"):
            fn = getattr(p, helper, None)
            if callable(fn):
                with contextlib.suppress(ParseError):
                    fn()
        for a in getattr(p, "attributes", ()):
            with contextlib.suppress(ParseError):
                a.decoded()
        for sel in getattr(p, "selectors", ()):
            if hasattr(sel, "networks"):
                assert (sel.start <= sel.end) == bool(sel.networks())


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data):
    _decode_ok_or_parse_error(data)


@SETTINGS
@given(st.sampled_from(VALID), st.binary(min_size=1, max_size=400))
def test_arbitrary_body_behind_a_valid_header(valid, body):
    data = bytearray(valid[:28] + body)
    struct.pack_into("!L", data, 24, len(data))
    data[16] = body[0] % 56  # a plausible first payload type
    _decode_ok_or_parse_error(bytes(data))


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "u16", "insert", "delete", "byte"]))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "u16" and len(data) >= 2:
            pos = min(pos, len(data) - 2)
            struct.pack_into(
                "!H",
                data,
                pos,
                draw(
                    st.sampled_from(
                        [0, 1, 3, 4, 5, 7, 8, 9, 0x7FFF, 0xFFFF, draw(st.integers(0, 0xFFFF))]
                    )
                ),
            )
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()) and len(data) >= 28:
        struct.pack_into("!L", data, 24, len(data))  # keep the header length consistent
    return bytes(data)


@SETTINGS
@example(VALID[0][:-1])
@given(mutated())
def test_mutated_valid_messages(data):
    _decode_ok_or_parse_error(data)


@SETTINGS
@given(st.integers(0, 255), st.binary(max_size=300))
def test_decode_payloads_of_arbitrary_plaintext(first, data):
    try:
        payloads = decode_payloads(first, data)
    except ParseError:
        return
    first2, again = encode_payloads(payloads)
    assert decode_payloads(first2, again) == payloads


@SETTINGS
@given(st.binary(max_size=40))
def test_peek_header_and_nat_t_never_raise_anything_else(data):
    try:
        h = peek_header(data)
        assert len(h.spi_i) == 8
    except ParseError:
        assert len(data) < 28
    inner = split_udp4500(data)
    assert inner is None or (data[:4] == bytes(4) and inner == data[4:])


def test_valid_corpus_decodes():
    for data in VALID:
        assert encode_message(decode_message(data)) == data
    assert {d[16] for d in VALID} >= {PayloadType.SA, PayloadType.SK, PayloadType.SKF}
