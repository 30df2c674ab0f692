"""Typed helpers: constructors and accessors the IKE, auth and policy rooms use."""

import ipaddress

import pytest

from ikev2d.wire.buffer import Buffer
from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import (
    AuthMethod,
    CfgAttr,
    CfgType,
    DhId,
    EapCode,
    EapType,
    EncrId,
    ExchangeType,
    HashAlgorithm,
    IdType,
    NotifyType,
    PayloadType,
    ProtocolId,
    TransformType,
)
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import Header, Message, decode_message, encode_message
from ikev2d.wire.nat_t import NON_ESP_MARKER, add_non_esp_marker, split_udp4500
from ikev2d.wire.payloads import (
    DeletePayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
    UnknownPayload,
)
from ikev2d.wire.sa import Proposal, Transform
from ikev2d.wire.ts import TrafficSelector

IP = ipaddress.ip_address


def test_registry_numbers():
    assert (
        ExchangeType.IKE_SA_INIT,
        ExchangeType.INFORMATIONAL,
        ExchangeType.IKE_INTERMEDIATE,
    ) == (34, 37, 43)
    assert (PayloadType.SA, PayloadType.SK, PayloadType.CP, PayloadType.EAP, PayloadType.SKF) == (
        33,
        46,
        47,
        48,
        53,
    )
    assert (
        NotifyType.INVALID_KE_PAYLOAD,
        NotifyType.AUTHENTICATION_FAILED,
        NotifyType.TS_UNACCEPTABLE,
        NotifyType.STATE_NOT_FOUND,
    ) == (17, 24, 38, 47)
    assert (
        NotifyType.COOKIE,
        NotifyType.REKEY_SA,
        NotifyType.MOBIKE_SUPPORTED,
        NotifyType.UPDATE_SA_ADDRESSES,
        NotifyType.EAP_ONLY_AUTHENTICATION,
        NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
        NotifyType.USE_AGGFRAG,
    ) == (16390, 16393, 16396, 16400, 16417, 16430, 16431, 16442)
    assert (EncrId.AES_CBC, EncrId.AES_GCM_16, EncrId.CHACHA20_POLY1305) == (12, 20, 28)
    assert (DhId.MODP2048, DhId.ECP256, DhId.CURVE25519, DhId.ML_KEM_768) == (14, 19, 31, 36)
    assert TransformType.DH is TransformType.KE
    assert (AuthMethod.SHARED_KEY_MIC, AuthMethod.DIGITAL_SIGNATURE) == (2, 14)
    assert (CfgAttr.INTERNAL_IP4_SUBNET, CfgAttr.INTERNAL_DNS_DOMAIN) == (13, 25)
    assert HashAlgorithm.SHA2_512 == 4 and EapType.MSCHAPV2 == 26 and IdType.NULL == 13


def test_notify_constructors_and_accessors():
    n = NotifyPayload.invalid_ke(DhId.ECP384)
    assert n.is_error and n.requested_group() == 20 and n.protocol == 0 and n.spi == b""
    assert NotifyPayload.cookie(b"c" * 16).notify_type == NotifyType.COOKIE
    r = NotifyPayload.rekey_sa(ProtocolId.ESP, 0xDEADBEEF)
    assert (r.protocol, r.spi, r.spi_int, r.is_error) == (3, b"\xde\xad\xbe\xef", 0xDEADBEEF, False)
    sig = NotifyPayload.signature_hash_algorithms([2, 3, 4])
    assert sig.uint16_list() == (2, 3, 4) and sig.data == bytes.fromhex("000200030004")
    assert NotifyPayload.of(NotifyType.ADDITIONAL_IP6_ADDRESS, IP("fd00::1").packed).address() == (
        IP("fd00::1")
    )
    with pytest.raises(ParseError):
        NotifyPayload.of(NotifyType.INVALID_KE_PAYLOAD, b"\x00").requested_group()
    with pytest.raises(ParseError):
        NotifyPayload.of(NotifyType.SIGNATURE_HASH_ALGORITHMS, b"\x00").uint16_list()
    with pytest.raises(ParseError):
        NotifyPayload.of(NotifyType.ADDITIONAL_IP4_ADDRESS, b"\x01\x02").address()


def test_id_payload_values():
    assert IdiPayload.from_value("alice@example.test") == IdiPayload(
        IdType.RFC822_ADDR, b"alice@example.test"
    )
    assert IdrPayload.from_value("vpn.example.test").id_type == IdType.FQDN
    assert IdiPayload.from_value(IP("192.0.2.1")).value() == IP("192.0.2.1")
    assert IdiPayload.from_value(IP("2001:db8::1")).value() == IP("2001:db8::1")
    assert IdiPayload(IdType.KEY_ID, b"\xff\x00").value() == b"\xff\x00"
    assert IdrPayload.from_value("x").payload_type == PayloadType.IDr
    with pytest.raises(ParseError, match="UTF-8"):
        IdiPayload(IdType.FQDN, b"\xff\xfe").value()
    with pytest.raises(ParseError, match="address of 3 bytes"):
        IdiPayload(IdType.IPV4_ADDR, b"\x01\x02\x03").value()


def test_traffic_selector_accessors():
    ts = TrafficSelector.from_network("10.10.10.0/24", ip_protocol=6, end_port=80)
    assert (ts.start, ts.end) == (IP("10.10.10.0"), IP("10.10.10.255"))
    assert ts.start_address == bytes([10, 10, 10, 0]) and ts.ts_type == 7
    assert ts.networks() == [ipaddress.ip_network("10.10.10.0/24")]
    odd = TrafficSelector.from_range("10.0.0.1", "10.0.0.6")
    assert [str(n) for n in odd.networks()] == [
        "10.0.0.1/32",
        "10.0.0.2/31",
        "10.0.0.4/31",
        "10.0.0.6/32",
    ]
    v6 = TrafficSelector.from_range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert v6.ts_type == 8 and v6.networks() == [ipaddress.ip_network("::/0")]
    backwards = TrafficSelector.from_range("10.0.0.9", "10.0.0.1")
    assert backwards.networks() == []
    with pytest.raises(ValueError, match="families"):
        TrafficSelector.from_range("10.0.0.1", "::1")


def test_cp_attribute_helpers_and_decoded_values():
    cp = CpPayload(
        CfgType.REPLY,
        (
            CfgAttribute.ip4_address("10.10.10.2"),
            CfgAttribute.ip4_netmask("255.255.255.0"),
            CfgAttribute.ip4_dns("192.168.1.1"),
            CfgAttribute.ip4_dns("192.168.1.2"),
            CfgAttribute.ip4_subnet("192.168.1.0/24"),
            CfgAttribute.ip6_address("fd00:10::2/64"),
            CfgAttribute.ip6_dns("fd00::53"),
            CfgAttribute.ip6_subnet("fd00:1::/48"),
            CfgAttribute.dns_domain("lan"),
            CfgAttribute(CfgAttr.APPLICATION_VERSION, b"ikev2d"),
            CfgAttribute(CfgAttr.SUPPORTED_ATTRIBUTES, b"\x00\x01"),
        ),
    )
    assert cp.values(CfgAttr.INTERNAL_IP4_ADDRESS) == [IP("10.10.10.2")]
    assert cp.values(CfgAttr.INTERNAL_IP4_NETMASK) == [IP("255.255.255.0")]
    assert cp.values(CfgAttr.INTERNAL_IP4_DNS) == [IP("192.168.1.1"), IP("192.168.1.2")]
    assert cp.values(CfgAttr.INTERNAL_IP4_SUBNET) == [ipaddress.ip_network("192.168.1.0/24")]
    assert cp.values(CfgAttr.INTERNAL_IP6_ADDRESS) == [ipaddress.ip_interface("fd00:10::2/64")]
    assert cp.values(CfgAttr.INTERNAL_IP6_DNS) == [IP("fd00::53")]
    assert cp.values(CfgAttr.INTERNAL_IP6_SUBNET) == [ipaddress.ip_network("fd00:1::/48")]
    assert cp.values(CfgAttr.INTERNAL_DNS_DOMAIN) == ["lan"]
    assert cp.values(CfgAttr.APPLICATION_VERSION) == ["ikev2d"]
    assert cp.values(CfgAttr.SUPPORTED_ATTRIBUTES) == [b"\x00\x01"]
    assert CfgAttribute.ip6_address("fd00::2/64").value == IP("fd00::2").packed + b"\x40"
    assert CfgAttribute.ip4_subnet("10.1.0.0/16").value == bytes([10, 1, 0, 0, 255, 255, 0, 0])
    req = CpPayload.request(CfgAttr.INTERNAL_IP4_ADDRESS, CfgAttr.INTERNAL_IP4_DNS)
    assert req.cfg_type == CfgType.REQUEST and req.requested() == [1, 3]
    assert req.attributes[0].decoded() is None and req.values(1) == []


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        (CfgAttr.INTERNAL_IP4_SUBNET, bytes([10, 0, 0, 0, 255, 0, 255, 0])),  # mask not contiguous
        (CfgAttr.INTERNAL_IP6_ADDRESS, bytes(16) + b"\x81"),  # prefix 129
        (CfgAttr.INTERNAL_DNS_DOMAIN, b"\xff"),
    ],
)
def test_cp_bad_values_raise_parse_error(attr, value):
    with pytest.raises(ParseError, match=f"attribute {int(attr)}"):
        CfgAttribute(attr, value).decoded()


def test_eap_payload_message_bytes():
    assert EapPayload(EapCode.SUCCESS, 9).message() == b"\x03\x09\x00\x04"
    req = EapPayload(EapCode.REQUEST, 1, EapType.IDENTITY)
    assert req.message() == b"\x01\x01\x00\x05\x01"
    resp = EapPayload(EapCode.RESPONSE, 1, EapType.IDENTITY, b"dave")
    assert resp.body() == b"\x02\x01\x00\x09\x01dave"


def test_delete_helpers():
    d = DeletePayload.child(ProtocolId.ESP, [1, 0xFFFFFFFF])
    assert (d.spi_size, d.spis, d.spi_ints()) == (4, (b"\0\0\0\1", b"\xff" * 4), [1, 0xFFFFFFFF])
    assert DeletePayload.ike().body() == b"\x01\x00\x00\x00"


def test_proposal_helpers():
    p = Proposal(
        1,
        ProtocolId.ESP,
        b"\0\0\1\0",
        (Transform(1, 12, 128), Transform(1, 12, 256), Transform(3, 12)),
    )
    assert [t.key_length for t in p.of_type(TransformType.ENCR)] == [128, 256]
    assert p.spi_int == 256
    assert Proposal(1, ProtocolId.IKE, b"", ()).spi_int is None


def test_message_lookup_helpers():
    h = Header(bytes(8), bytes(8), ExchangeType.INFORMATIONAL, 1)
    msg = decode_message(
        encode_message(
            Message(
                h,
                (
                    NotifyPayload.of(NotifyType.COOKIE2, bytes(8)),
                    UnknownPayload(99, True, b""),
                    UnknownPayload(98, False, b"x"),
                    DeletePayload.ike(),
                ),
            )
        )
    )
    assert msg.notify(NotifyType.COOKIE2).data == bytes(8)
    assert msg.notify(NotifyType.COOKIE) is None
    assert msg.get(DeletePayload) == DeletePayload.ike()
    assert msg.get(EapPayload) is None
    assert [p.payload_type for p in msg.all(UnknownPayload)] == [99, 98]
    assert [p.payload_type for p in msg.unknown_critical()] == [99]


def test_secrets_stay_out_of_reprs():
    from ikev2d.wire.payloads import AuthPayload, KePayload, NoncePayload

    for p in (
        AuthPayload(2, b"SECRET-AUTH"),
        NoncePayload(b"SECRET-NONCE" * 2),
        KePayload(14, b"SECRET-KE"),
        EapPayload(2, 1, 26, b"SECRET-RESPONSE"),
    ):
        assert b"SECRET" not in repr(p).encode()


def test_nat_t_split():
    ike = b"\x01" * 28
    assert split_udp4500(NON_ESP_MARKER + ike) == ike
    assert split_udp4500(memoryview(add_non_esp_marker(ike))) == ike
    assert split_udp4500(b"\xff") is None  # NAT-keepalive
    assert split_udp4500(b"\x00\x00\x10\x01" + bytes(40)) is None  # ESP, SPI 0x1001
    assert split_udp4500(b"\x00\x00\x00") is None
    assert split_udp4500(b"") is None


def test_buffer_reads_are_bounds_checked():
    buf = Buffer(b"\x01\x02\x03\x04\x05", 1, 4)
    assert buf.pull_uint16() == 0x0203 and buf.remaining() == 1
    with pytest.raises(ParseError, match="truncated thing: need 2 bytes at offset 3, have 1"):
        buf.pull_uint16("thing")
    assert buf.pull_uint8() == 4 and buf.eof()
    with pytest.raises(ParseError):
        buf.pull_bytes(1)
    with pytest.raises(ParseError):
        Buffer(b"abc").pull_bytes(-1)
    r = Buffer(b"\x01\x00\x02\x00\x00\x00\x03" + bytes(7) + b"\x04z")
    assert (r.pull_uint8(), r.pull_uint16(), r.pull_uint32(), r.pull_uint64(), r.pull_rest()) == (
        1,
        2,
        3,
        4,
        b"z",
    )
