"""strongSwan as initiator: its real IKE_SA_INIT request, decoded by our codec. Debian 12's
5.9.8 and strongSwan 6 (scripts/strongswan6-root.sh, chrooted), which also proposes ML-KEM as
an RFC 9370 additional key exchange.

charon + swanctl run in one namespace; the "responder" is a plain UDP socket this test holds
on 192.0.2.1:500 in another. Nothing answers, so no ESP is needed (host kernel). The plugin
list is kernel-netlink without kernel-libipsec: libipsec fakes the NAT_DETECTION_SOURCE_IP
hash (to force ESP-in-UDP), and the NAT-D hashes are cross-checked here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import pathlib
import struct
from dataclasses import dataclass

import pytest

from ikev2d.wire.enums import (
    DhId,
    EncrId,
    ExchangeType,
    HashAlgorithm,
    IntegId,
    NotifyType,
    PrfId,
    ProtocolId,
    TransformType,
)
from ikev2d.wire.message import Message, decode_message
from ikev2d.wire.payloads import KePayload, NoncePayload, NotifyPayload
from ikev2d.wire.sa import SaPayload
from testbed.strongswan import KERNEL_NETLINK, strongswan6_root

pytestmark = pytest.mark.interop

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "strongswan-5.9.8-ike-sa-init-aes256-sha256-modp2048.bin"
INITIATOR, RESPONDER, IKE_PORT = "192.0.2.2", "192.0.2.1", 500

SWANCTL_CONF = """
connections {
  probe {
    version = 2
    local_addrs = %(initiator)s
    remote_addrs = %(responder)s
    proposals = %(proposals)s
    local {
      auth = psk
      id = phone@example.test
    }
    remote {
      auth = psk
      id = vpn.example.test
    }
    children {
      probe {
        esp_proposals = aes256-sha256
      }
    }
  }
}
secrets {
  ike-any {
    secret = "interop-psk-0123456789"
  }
}
"""


@dataclass(frozen=True)
class Expected:
    """What one strongSwan proposal string must become on the wire."""

    proposals: str
    transforms: tuple[tuple[int, int, int | None], ...]  # (type, id, key bits), in wire order
    group: int
    ke_length: int


AES_CBC_SHA256_MODP2048 = Expected(
    "aes256-sha256-modp2048",
    (
        (TransformType.ENCR, EncrId.AES_CBC, 256),
        (TransformType.INTEG, IntegId.HMAC_SHA2_256_128, None),
        (TransformType.PRF, PrfId.HMAC_SHA2_256, None),
        (TransformType.DH, DhId.MODP2048, None),
    ),
    DhId.MODP2048,
    256,
)
AES_GCM_PRFSHA384_CURVE25519 = Expected(
    "aes256gcm16-prfsha384-curve25519",
    (
        (TransformType.ENCR, EncrId.AES_GCM_16, 256),
        (TransformType.PRF, PrfId.HMAC_SHA2_384, None),
        (TransformType.DH, DhId.CURVE25519, None),
    ),
    DhId.CURVE25519,
    32,
)


AES_CBC_SHA256_X25519_MLKEM768 = Expected(
    "aes256-sha256-x25519-ke1_mlkem768",
    (
        (TransformType.ENCR, EncrId.AES_CBC, 256),
        (TransformType.INTEG, IntegId.HMAC_SHA2_256_128, None),
        (TransformType.PRF, PrfId.HMAC_SHA2_256, None),
        (TransformType.DH, DhId.CURVE25519, None),
        (TransformType.ADDKE1, DhId.ML_KEM_768, None),
    ),
    DhId.CURVE25519,
    32,
)
PEERS = {"strongswan5": None, "strongswan6": strongswan6_root}


def natd_hash(spi_i: bytes, spi_r: bytes, addr: str, port: int) -> bytes:
    """RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | port)."""
    packed = ipaddress.ip_address(addr).packed
    return hashlib.sha1(spi_i + spi_r + packed + struct.pack("!H", port)).digest()  # noqa: S324


def capture_ike_sa_init(netns_set, make_charon, proposals: str, peer=None) -> tuple:
    """Start a strongSwan initiator and return its first datagram and source address."""
    ini, resp = netns_set.add("ini"), netns_set.add("resp")
    netns_set.veth(ini, "e0", resp, "e0")
    ini.addr_add("e0", f"{INITIATOR}/24")
    resp.addr_add("e0", f"{RESPONDER}/24")
    responder = resp.udp_socket(RESPONDER, IKE_PORT)
    root = peer() if peer is not None else None
    charon = make_charon(ini, "initiator", plugins=KERNEL_NETLINK, root=root)
    charon.write_swanctl_conf(
        SWANCTL_CONF % {"initiator": INITIATOR, "responder": RESPONDER, "proposals": proposals}
    )
    charon.start()
    charon.load_all()
    with responder:
        charon.initiate_background("probe")
        responder.settimeout(10)
        return responder.recvfrom(65535)


def check_ike_sa_init(msg: Message, expected: Expected, src: tuple[str, int]) -> None:
    # HDR(SPIi, 0), SA, KE, Ni, N(NAT_DETECTION_*), N(...) -->
    hdr = msg.header
    assert hdr.exchange == ExchangeType.IKE_SA_INIT
    assert (hdr.initiator, hdr.response, hdr.message_id) == (True, False, 0)
    assert len(hdr.spi_i) == 8 and hdr.spi_i != bytes(8)
    assert hdr.spi_r == bytes(8)
    assert [type(p) for p in msg.payloads[:3]] == [SaPayload, KePayload, NoncePayload]

    (proposal,) = msg.get(SaPayload).proposals
    assert (proposal.number, proposal.protocol, proposal.spi) == (1, ProtocolId.IKE, b"")
    got = tuple((t.transform_type, t.transform_id, t.key_length) for t in proposal.transforms)
    assert got == expected.transforms

    ke = msg.get(KePayload)
    assert ke.group == expected.group
    assert len(ke.data) == expected.ke_length
    assert len(msg.get(NoncePayload).data) == 32  # strongSwan's nonce size

    notifies = [p.notify_type for p in msg.all(NotifyPayload)]
    additional = any(t[0] >= TransformType.ADDKE1 for t in expected.transforms)
    assert notifies == [
        NotifyType.NAT_DETECTION_SOURCE_IP,
        NotifyType.NAT_DETECTION_DESTINATION_IP,
        NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
        NotifyType.REDIRECT_SUPPORTED,
        *([NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED] if additional else []),  # RFC 9242
    ]
    hashes = msg.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS).data
    assert struct.unpack(f"!{len(hashes) // 2}H", hashes) == (
        HashAlgorithm.SHA2_256,
        HashAlgorithm.SHA2_384,
        HashAlgorithm.SHA2_512,
        HashAlgorithm.IDENTITY,
    )
    # NAT-D: the hashes of the addresses really used, both ends
    src_hash = msg.notify(NotifyType.NAT_DETECTION_SOURCE_IP).data
    dst_hash = msg.notify(NotifyType.NAT_DETECTION_DESTINATION_IP).data
    assert src_hash == natd_hash(hdr.spi_i, hdr.spi_r, src[0], src[1])
    assert dst_hash == natd_hash(hdr.spi_i, hdr.spi_r, RESPONDER, IKE_PORT)


@pytest.mark.parametrize(
    ("peer", "expected"),
    [(peer, e) for peer in PEERS for e in (AES_CBC_SHA256_MODP2048, AES_GCM_PRFSHA384_CURVE25519)]
    + [("strongswan6", AES_CBC_SHA256_X25519_MLKEM768)],
    ids=lambda v: v if isinstance(v, str) else v.proposals,
)
def test_strongswan_ike_sa_init_decodes(netns_set, make_charon, peer, expected):
    data, src = capture_ike_sa_init(netns_set, make_charon, expected.proposals, PEERS[peer])

    msg = decode_message(data)

    assert src == (INITIATOR, IKE_PORT)
    assert msg.header.length == len(data)
    check_ike_sa_init(msg, expected, src)


def test_stored_fixture_is_a_strongswan_ike_sa_init():
    # captured by capture_ike_sa_init() above: 192.0.2.2:500 -> 192.0.2.1:500
    data = FIXTURE.read_bytes()

    msg = decode_message(data)

    check_ike_sa_init(msg, AES_CBC_SHA256_MODP2048, (INITIATOR, IKE_PORT))


def test_natd_check_would_catch_a_wrong_address():
    # the cross-check is not vacuous: another port or address gives another hash
    msg = decode_message(FIXTURE.read_bytes())
    hdr = msg.header
    src_hash = msg.notify(NotifyType.NAT_DETECTION_SOURCE_IP).data
    assert src_hash != natd_hash(hdr.spi_i, hdr.spi_r, INITIATOR, 4500)
    assert src_hash != natd_hash(hdr.spi_i, hdr.spi_r, "192.0.2.3", IKE_PORT)
