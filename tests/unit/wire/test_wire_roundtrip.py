"""encode(decode(x)) == x for every payload and message shape, plus hand-made golden bytes."""

import dataclasses
import struct

import pytest
import wire_samples as S

from ikev2d.wire.enums import DhId, ExchangeType, NotifyType, PayloadType, ProtocolId
from ikev2d.wire.message import (
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
    peek_header,
)
from ikev2d.wire.payloads import EncryptedFragmentPayload, EncryptedPayload, NotifyPayload
from ikev2d.wire.sa import Proposal, SaPayload, Transform

MESSAGES = S.all_messages()
CHAINS = S.all_inner_chains()


def _filled(msg: Message, data: bytes) -> Message:
    """The message as decode returns it: next_payload and length filled in the header."""
    first = msg.payloads[0].payload_type if msg.payloads else 0
    return Message(
        dataclasses.replace(msg.header, next_payload=first, length=len(data)), msg.payloads
    )


@pytest.mark.parametrize(("name", "msg"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_message_round_trip(name, msg):
    data = encode_message(msg)
    decoded = decode_message(data)
    assert decoded == _filled(msg, data)
    assert encode_message(decoded) == data
    assert decode_message(memoryview(data)) == decoded


@pytest.mark.parametrize(("name", "chain"), CHAINS, ids=[n for n, _ in CHAINS])
def test_inner_chain_round_trip(name, chain):
    first, data = encode_payloads(chain)
    assert first == (chain[0].payload_type if chain else PayloadType.NONE)
    assert tuple(decode_payloads(first, data)) == chain
    # and wrapped in a whole message body, as the SK plaintext of an IKE_AUTH would be
    msg = Message(S.header(ExchangeType.IKE_AUTH, 1, initiator=True, response=False), chain)
    wire = encode_message(msg)
    assert decode_message(wire).payloads == chain


def test_every_payload_type_is_covered():
    seen = {p.payload_type for _, m in MESSAGES for p in m.payloads}
    seen |= {p.payload_type for _, c in CHAINS for p in c}
    assert set(PayloadType) - {PayloadType.NONE} - seen <= {
        PayloadType.GSPM,
        PayloadType.IDg,
        PayloadType.GSA,
        PayloadType.KD,
        PayloadType.PS,
    }


def test_sk_carries_first_inner_type_and_ends_the_chain():
    msg = S.encrypted_message(ExchangeType.IKE_AUTH, 1, PayloadType.IDi)
    data = encode_message(msg)
    assert data[16] == PayloadType.SK  # header next payload
    assert data[28] == PayloadType.IDi  # SK generic header carries the inner type
    sk = decode_message(data).payloads[0]
    assert isinstance(sk, EncryptedPayload)
    assert sk.first_inner_type == PayloadType.IDi
    assert sk.data == msg.payloads[0].data


def test_skf_fields():
    data = encode_message(S.fragment_messages()[0])
    assert data[28] == PayloadType.IDi
    assert struct.unpack_from("!HH", data, 32) == (1, 3)
    skf = decode_message(data).payloads[0]
    assert isinstance(skf, EncryptedFragmentPayload)
    assert (skf.first_inner_type, skf.number, skf.total) == (PayloadType.IDi, 1, 3)


def test_peek_header_reads_any_version():
    data = bytearray(encode_message(S.sa_init_request()))
    data[17] = 0x30  # IKE version 3.0
    h = peek_header(bytes(data))
    assert (h.major_version, h.minor_version) == (3, 0)
    assert h.spi_i == S.SPI_I and h.exchange == ExchangeType.IKE_SA_INIT and h.initiator


def test_header_flags_and_version_bits():
    h = Header(
        S.SPI_I,
        S.SPI_R,
        ExchangeType.INFORMATIONAL,
        7,
        initiator=True,
        response=True,
        version_flag=True,
        minor_version=1,
    )
    raw = h.encode(0, 28)
    assert raw[17] == 0x21 and raw[19] == 0x08 | 0x10 | 0x20
    back = decode_message(raw).header
    assert (back.initiator, back.response, back.version_flag, back.minor_version) == (
        True,
        True,
        True,
        1,
    )
    assert back.message_id == 7 and back.length == 28


def test_golden_ike_sa_init_bytes():
    """Encoding matches bytes assembled by hand from RFC 7296 §3.1-§3.3 and §3.10."""
    sa = SaPayload(
        (
            Proposal(
                1,
                ProtocolId.IKE,
                b"",
                (Transform(1, 12, 128), Transform(2, 5), Transform(3, 12), Transform(4, 19)),
            ),
        )
    )
    msg = Message(
        Header(bytes(range(1, 9)), bytes(8), ExchangeType.IKE_SA_INIT, 0, initiator=True),
        (sa, NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)),
    )
    expected = bytes.fromhex(
        "0102030405060708"
        "0000000000000000"  # SPIs
        "21"
        "20"
        "22"
        "08"
        "00000000"
        "00000054"  # SA, v2.0, IKE_SA_INIT, I, mid 0, len 84
        "29"
        "00"
        "0030"  # SA generic header: next N, len 48
        "00"
        "00"
        "002c"
        "01"
        "01"
        "00"
        "04"  # last proposal, len 44, #1, IKE, no SPI, 4 xf
        "03"
        "00"
        "000c"
        "01"
        "00"
        "000c"
        "800e0080"  # ENCR AES_CBC + KEY_LENGTH 128
        "03"
        "00"
        "0008"
        "02"
        "00"
        "0005"  # PRF HMAC_SHA2_256
        "03"
        "00"
        "0008"
        "03"
        "00"
        "000c"  # INTEG HMAC_SHA2_256_128
        "00"
        "00"
        "0008"
        "04"
        "00"
        "0013"  # last: KE ECP256
        "00"
        "00"
        "0008"
        "00"
        "00"
        "402e"  # N: proto 0, no SPI, IKEV2_FRAGMENTATION_SUPPORTED
    )
    assert len(expected) == 84
    data = encode_message(msg)
    assert data == expected
    assert decode_message(expected).payloads == msg.payloads


def test_notify_with_child_spi_and_delete_bytes():
    n = NotifyPayload.rekey_sa(ProtocolId.ESP, 0x01020304)
    first, data = encode_payloads([n])
    assert first == PayloadType.NOTIFY
    assert data == bytes.fromhex("0000000c0304400901020304")
    assert decode_payloads(first, data)[0].spi_int == 0x01020304


def test_encode_rejects_sk_not_last_and_oversized():
    sk = EncryptedPayload(PayloadType.IDi, b"x")
    with pytest.raises(ValueError, match="last"):
        encode_payloads([sk, NotifyPayload.of(NotifyType.COOKIE)])
    with pytest.raises(ValueError, match="too long"):
        encode_payloads([NotifyPayload.of(NotifyType.COOKIE, bytes(70000))])


def test_key_exchange_group_names():
    msg = decode_message(encode_message(S.sa_init_request()))
    ke = msg.payloads[1]
    assert ke.group == DhId.MODP2048 and ke.data == S.KE_DATA


def test_header_rejects_short_spis():
    with pytest.raises(ValueError, match="8 bytes"):
        Header(b"\x01" * 4, bytes(8), ExchangeType.IKE_SA_INIT, 0).encode(0, 28)
