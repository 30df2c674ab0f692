"""Independent cross-check with scapy's IKEv2 dissector (scapy.contrib.ikev2).

scapy parses what we encode and we parse what scapy builds, compared field by field.
"""

import ipaddress

import pytest
import wire_samples as S
from scapy.all import load_contrib
from scapy.packet import NoPayload, Raw

load_contrib("ikev2")
from scapy.contrib import ikev2 as sc  # noqa: E402  (available only after load_contrib)

from ikev2d.wire.cp import CpPayload  # noqa: E402
from ikev2d.wire.eap import EapPayload  # noqa: E402
from ikev2d.wire.enums import ExchangeType, NotifyType, PayloadType  # noqa: E402
from ikev2d.wire.message import Message, decode_message, encode_message  # noqa: E402
from ikev2d.wire.payloads import (  # noqa: E402
    AuthPayload,
    CertPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
    VendorIdPayload,
)
from ikev2d.wire.sa import SaPayload  # noqa: E402
from ikev2d.wire.ts import TrafficSelector, TsPayload  # noqa: E402


def _chain(layer):
    while layer is not None and not isinstance(layer, NoPayload | Raw):
        yield layer
        layer = layer.payload


def _check_sa(ours: SaPayload, theirs) -> None:
    props = list(_chain(theirs.prop))
    assert len(props) == len(ours.proposals)
    for p, sp in zip(ours.proposals, props, strict=True):
        assert (sp.proposal, sp.proto, sp.SPIsize, sp.trans_nb) == (
            p.number,
            p.protocol,
            len(p.spi),
            len(p.transforms),
        )
        assert bytes(sp.SPI) == p.spi
        xfs = list(_chain(sp.trans))
        assert len(xfs) == len(p.transforms)
        for t, st in zip(p.transforms, xfs, strict=True):
            assert (st.transform_type, st.transform_id, st.length) == (
                t.transform_type,
                t.transform_id,
                len(t.encode(True)),
            )
            if t.key_length is not None:
                assert st.key_length == t.key_length


def _check_ts(ours: TsPayload, theirs) -> None:
    assert theirs.number_of_TSs == len(ours.selectors)
    for s, ss in zip(ours.selectors, theirs.traffic_selector, strict=True):
        assert ss.TS_type == s.ts_type
        if isinstance(s, TrafficSelector):
            v = "v4" if s.ts_type == 7 else "v6"
            assert (ss.IP_protocol_ID, ss.start_port, ss.end_port) == (
                s.ip_protocol,
                s.start_port,
                s.end_port,
            )
            assert ipaddress.ip_address(getattr(ss, f"starting_address_{v}")) == s.start
            assert ipaddress.ip_address(getattr(ss, f"ending_address_{v}")) == s.end
        else:
            assert bytes(ss)[4:] == s.data


def _check_cp(ours: CpPayload, theirs) -> None:
    assert theirs.CFGType == ours.cfg_type
    assert len(theirs.attributes) == len(ours.attributes)
    for a, sa in zip(ours.attributes, theirs.attributes, strict=True):
        assert (sa.type, sa.length) == (a.attr_type, len(a.value))
        if isinstance(sa.value, str):  # scapy shows 4- and 16-byte addresses as text
            assert ipaddress.ip_address(sa.value).packed == a.value
        else:
            assert bytes(sa.value) == a.value


def _check(ours, theirs) -> None:
    assert theirs.length == 4 + len(ours.body())
    assert bool(theirs.flags & 0x80) == ours.critical
    if isinstance(ours, SaPayload):
        _check_sa(ours, theirs)
    elif isinstance(ours, KePayload):
        assert (theirs.group, bytes(theirs.ke)) == (ours.group, ours.data)
    elif isinstance(ours, IdPayload):
        assert theirs.IDtype == ours.id_type and bytes(theirs.ID) == ours.data
    elif isinstance(ours, CertPayload):
        assert theirs.cert_encoding == ours.encoding
        assert bytes(theirs)[5 : theirs.length] == ours.data
    elif isinstance(ours, AuthPayload):
        assert (theirs.auth_type, bytes(theirs.load)) == (ours.method, ours.data)
    elif isinstance(ours, NoncePayload):
        assert bytes(theirs.nonce) == ours.data
    elif isinstance(ours, NotifyPayload):
        assert (theirs.proto, theirs.SPIsize, theirs.type) == (
            ours.protocol,
            len(ours.spi),
            ours.notify_type,
        )
        assert bytes(theirs.SPI) == ours.spi and bytes(theirs.notify) == ours.data
    elif isinstance(ours, DeletePayload):
        assert (theirs.proto, theirs.SPIsize, theirs.SPInum) == (
            ours.protocol,
            ours.spi_size,
            len(ours.spis),
        )
        assert [bytes(s) for s in theirs.SPI] == list(ours.spis)
    elif isinstance(ours, VendorIdPayload):
        assert bytes(theirs.vendorID) == ours.data
    elif isinstance(ours, TsPayload):
        _check_ts(ours, theirs)
    elif isinstance(ours, CpPayload):
        _check_cp(ours, theirs)
    elif isinstance(ours, EapPayload | EncryptedPayload | UnknownPayload):
        assert bytes(theirs.load) == ours.body()
    elif isinstance(ours, EncryptedFragmentPayload):
        assert (theirs.frag_number, theirs.frag_total, bytes(theirs.load)) == (
            ours.number,
            ours.total,
            ours.data,
        )
    else:
        raise AssertionError(f"no scapy comparison for {type(ours).__name__}")


def _messages():
    out = S.all_messages()
    for name, chain in S.all_inner_chains():
        hdr = S.header(ExchangeType.IKE_AUTH, 1, initiator=True, response=False)
        out.append((name, Message(hdr, chain)))
    return out


MESSAGES = _messages()


@pytest.mark.parametrize(("name", "msg"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_scapy_parses_what_we_encode(name, msg):
    data = encode_message(msg)
    pkt = sc.IKEv2(data)
    h = msg.header
    assert (bytes(pkt.init_SPI), bytes(pkt.resp_SPI)) == (h.spi_i, h.spi_r)
    assert (pkt.version, pkt.exch_type, pkt.id, pkt.length) == (
        0x20,
        h.exchange,
        h.message_id,
        len(data),
    )
    assert bool(pkt.flags.Initiator) == h.initiator
    assert bool(pkt.flags.Response) == h.response
    layers = list(_chain(pkt.payload))
    if msg.payloads and isinstance(msg.payloads[-1], EncryptedPayload | EncryptedFragmentPayload):
        # scapy goes on to dissect the ciphertext as the first inner payload; stop at SK.
        layers = layers[: len(msg.payloads)]
    assert len(layers) == len(msg.payloads)
    expected_next = [p.payload_type for p in msg.payloads[1:]]
    if msg.payloads:
        expected_next.append(getattr(msg.payloads[-1], "first_inner_type", 0))
    for ours, theirs, nxt in zip(msg.payloads, layers, expected_next, strict=True):
        assert theirs.next_payload == nxt
        _check(ours, theirs)


def _scapy_sa_init():
    transforms = (
        sc.IKEv2_Transform(transform_type=1, transform_id=12, length=12, key_length=256)
        / sc.IKEv2_Transform(transform_type=2, transform_id=5)
        / sc.IKEv2_Transform(transform_type=3, transform_id=12)
        / sc.IKEv2_Transform(transform_type=4, transform_id=14)
    )
    prop1 = sc.IKEv2_Proposal(proposal=1, proto=1, trans_nb=4, trans=transforms)
    prop2 = sc.IKEv2_Proposal(
        proposal=2,
        proto=1,
        trans_nb=2,
        trans=(
            sc.IKEv2_Transform(transform_type=1, transform_id=28)
            / sc.IKEv2_Transform(transform_type=4, transform_id=31)
        ),
    )
    return (
        sc.IKEv2(init_SPI=S.SPI_I, resp_SPI=bytes(8), exch_type=34, flags="Initiator")
        / sc.IKEv2_SA(prop=prop1 / prop2)
        / sc.IKEv2_KE(group=14, ke=S.KE_DATA)
        / sc.IKEv2_Nonce(nonce=S.NONCE_I)
        / sc.IKEv2_Notify(proto=0, type=16388, notify=S.NATD)
        / sc.IKEv2_Notify(proto=3, type=16393, SPI=b"\xc0\xff\xee\x01")
        / sc.IKEv2_VendorID(vendorID=b"scapy")
    )


def test_we_parse_what_scapy_builds_sa_init():
    msg = decode_message(bytes(_scapy_sa_init()))
    h = msg.header
    assert (h.spi_i, h.spi_r, h.exchange, h.initiator, h.response) == (
        S.SPI_I,
        bytes(8),
        ExchangeType.IKE_SA_INIT,
        True,
        False,
    )
    sa, ke, nonce, natd, rekey, vid = msg.payloads
    p1, p2 = sa.proposals
    assert [(t.transform_type, t.transform_id, t.key_length) for t in p1.transforms] == [
        (1, 12, 256),
        (2, 5, None),
        (3, 12, None),
        (4, 14, None),
    ]
    assert (p2.number, [t.transform_id for t in p2.transforms]) == (2, [28, 31])
    assert (ke.group, ke.data, nonce.data) == (14, S.KE_DATA, S.NONCE_I)
    assert (natd.notify_type, natd.data) == (NotifyType.NAT_DETECTION_SOURCE_IP, S.NATD)
    assert (rekey.notify_type, rekey.protocol, rekey.spi_int) == (
        NotifyType.REKEY_SA,
        3,
        0xC0FFEE01,
    )
    assert vid.data == b"scapy"


def test_we_parse_what_scapy_builds_auth_payloads():
    pkt = (
        sc.IKEv2(init_SPI=S.SPI_I, resp_SPI=S.SPI_R, exch_type=35, flags="Response", id=1)
        / sc.IKEv2_IDr(IDtype=2, ID=b"vpn.example.test")
        / sc.IKEv2_AUTH(auth_type=2, load=bytes(32))
        / sc.IKEv2_CP(
            CFGType=2,
            attributes=[
                sc.ConfigurationAttribute(type=1, length=4, value="10.10.10.2"),
                sc.ConfigurationAttribute(type=3, length=4, value="192.168.1.1"),
                sc.ConfigurationAttribute(type=10, length=16, value="fd00::1"),
                sc.ConfigurationAttribute(type=25, value=b"lan"),
            ],
        )
        / sc.IKEv2_TSi(
            traffic_selector=[
                sc.IPv4TrafficSelector(
                    IP_protocol_ID=0,
                    starting_address_v4="10.10.10.2",
                    ending_address_v4="10.10.10.2",
                )
            ]
        )
        / sc.IKEv2_TSr(
            traffic_selector=[
                sc.IPv4TrafficSelector(
                    IP_protocol_ID=17,
                    start_port=53,
                    end_port=53,
                    starting_address_v4="192.168.1.0",
                    ending_address_v4="192.168.1.255",
                ),
                sc.IPv6TrafficSelector(
                    length=40, starting_address_v6="fd00::", ending_address_v6="fd00::ffff"
                ),
            ]
        )
        / sc.IKEv2_Delete(proto=3, SPIsize=4, SPInum=2, SPI=[b"\0\0\0\1", b"\0\0\0\2"])
        / sc.IKEv2_EAP(load=b"\x03\x07\x00\x04")
    )
    msg = decode_message(bytes(pkt))
    idr, auth, cp, tsi, tsr, delete, eap = msg.payloads
    assert idr.value() == "vpn.example.test" and auth.method == 2 and auth.data == bytes(32)
    assert cp.values(1) == [ipaddress.ip_address("10.10.10.2")]
    assert cp.values(3) == [ipaddress.ip_address("192.168.1.1")]
    assert cp.values(10) == [ipaddress.ip_address("fd00::1")]
    assert cp.values(25) == ["lan"]
    assert tsi.selectors[0].networks() == [ipaddress.ip_network("10.10.10.2/32")]
    s4, s6 = tsr.selectors
    assert (s4.ip_protocol, s4.start_port, s4.end_port) == (17, 53, 53)
    assert s4.networks() == [ipaddress.ip_network("192.168.1.0/24")]
    assert s6.networks() == [ipaddress.ip_network("fd00::/112")]
    assert delete.spi_ints() == [1, 2]
    assert (eap.code, eap.identifier, eap.eap_type) == (3, 7, None)


def test_we_parse_what_scapy_builds_sk_and_skf():
    sk = sc.IKEv2(init_SPI=S.SPI_I, resp_SPI=S.SPI_R, exch_type=37, id=3) / sc.IKEv2_Encrypted(
        next_payload=42, load=bytes(range(48))
    )
    enc = decode_message(bytes(sk)).payloads[0]
    assert (enc.first_inner_type, enc.data) == (PayloadType.DELETE, bytes(range(48)))
    skf = sc.IKEv2(
        init_SPI=S.SPI_I, resp_SPI=S.SPI_R, exch_type=35, id=1
    ) / sc.IKEv2_Encrypted_Fragment(next_payload=35, frag_number=1, frag_total=2, load=bytes(64))
    frag = decode_message(bytes(skf)).payloads[0]
    assert (frag.first_inner_type, frag.number, frag.total, frag.data) == (35, 1, 2, bytes(64))


def test_non_esp_marker_agrees_with_scapy():
    from scapy.layers.inet import IP, UDP

    from ikev2d.wire.nat_t import add_non_esp_marker, split_udp4500

    ike = encode_message(S.sa_init_request())
    dgram = add_non_esp_marker(ike)
    pkt = IP(bytes(IP(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=4500, dport=4500) / dgram))
    assert pkt.haslayer(sc.IKEv2)
    assert bytes(pkt[sc.IKEv2]) == split_udp4500(dgram) == ike
