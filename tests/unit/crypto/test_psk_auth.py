"""PSK AUTH (RFC 7296 §2.15), computed independently with the hmac module."""

import hashlib
import hmac

from ikev2d.crypto.auth import (
    KEY_PAD,
    initiator_signed_octets,
    psk_auth,
    responder_signed_octets,
    signed_octets,
    verify_psk_auth,
)
from ikev2d.crypto.prf import Prf
from ikev2d.wire.enums import PrfId

PRF = Prf(PrfId.HMAC_SHA2_256)
MSG1 = b"\x11" * 300
MSG2 = b"\x22" * 280
NI, NR = b"\x01" * 32, b"\x02" * 32
SK_PI, SK_PR = b"\x0a" * 32, b"\x0b" * 32
IDI = bytes([2, 0, 0, 0]) + b"phone.example"  # ID Type FQDN, 3 reserved, data
IDR = bytes([1, 0, 0, 0, 192, 0, 2, 1])


def _h(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def test_key_pad_literal():
    assert KEY_PAD == b"Key Pad for IKEv2" and len(KEY_PAD) == 17


def test_initiator_and_responder_signed_octets():
    assert initiator_signed_octets(PRF, MSG1, NR, SK_PI, IDI) == MSG1 + NR + _h(SK_PI, IDI)
    assert responder_signed_octets(PRF, MSG2, NI, SK_PR, IDR) == MSG2 + NI + _h(SK_PR, IDR)
    assert signed_octets(PRF, MSG1, NR, SK_PI, IDI) == initiator_signed_octets(
        PRF, MSG1, NR, SK_PI, IDI
    )


def test_psk_auth_by_definition():
    psk = b"correct horse battery staple"
    octets = responder_signed_octets(PRF, MSG2, NI, SK_PR, IDR)
    expected = _h(_h(psk, b"Key Pad for IKEv2"), octets)
    assert psk_auth(PRF, psk, octets) == expected
    assert verify_psk_auth(PRF, psk, octets, expected)
    assert not verify_psk_auth(PRF, psk + b"x", octets, expected)
    assert not verify_psk_auth(PRF, psk, octets + b"x", expected)
    assert not verify_psk_auth(PRF, psk, octets, expected[:-1])
    assert not verify_psk_auth(PRF, psk, octets, b"")


def test_psk_auth_with_sha384_prf_length():
    prf = Prf(PrfId.HMAC_SHA2_384)
    assert len(psk_auth(prf, b"k", b"octets")) == 48


# --- RFC 9242 IntAuth ----------------------------------------------------------------------------
def test_intermediate_message_is_authenticated_as_if_never_encrypted():
    """§3.3.2: IKE header with Next Payload SK and the adjusted Length, the Encrypted payload's
    header with the first inner type and adjusted Payload Length, then the inner payloads."""
    from ikev2d.crypto.auth import unprotected_octets

    header = bytes(range(16)) + bytes([53, 0x20, 43, 0x08]) + (1).to_bytes(4, "big") + bytes(4)
    plain = b"\x00\x00\x00\x0c\x00\x24\x00\x00ABCD"  # one KE payload, 12 bytes
    octets = unprotected_octets(header, 34, plain)
    assert octets[:16] == header[:16]
    assert octets[16] == 46  # SK, even when the message came as SKF fragments
    assert octets[17:20] == bytes([0x20, 43, 0x08])  # version, IKE_INTERMEDIATE, flags
    assert octets[20:24] == (1).to_bytes(4, "big")  # message ID
    assert int.from_bytes(octets[24:28], "big") == len(octets) == 28 + 4 + 12
    assert octets[28:32] == bytes([34, 0]) + (16).to_bytes(2, "big")
    assert octets[32:] == plain


def test_intauth_chains_each_side_with_its_sk_p():
    """§3.3.1: IntAuth_i2 = prf(SK_pi2, IntAuth_i1 | IntAuth_i2A | IntAuth_i2P); the AUTH
    octets end with IntAuth_iN | IntAuth_rN | IKE_AUTH_MID."""
    from ikev2d.crypto.auth import intermediate_auth

    msg1, msg2 = b"\x31" * 100, b"\x32" * 90
    sk_pi1, sk_pi2 = b"\x41" * 32, b"\x42" * 32
    first = intermediate_auth(PRF, sk_pi1, b"", msg1)
    assert first == _h(sk_pi1, msg1)
    assert intermediate_auth(PRF, sk_pi2, first, msg2) == _h(sk_pi2, first + msg2)
    int_auth = b"\x51" * 32 + b"\x52" * 32 + (2).to_bytes(4, "big")
    octets = initiator_signed_octets(PRF, MSG1, NR, SK_PI, IDI, int_auth)
    assert octets == MSG1 + NR + _h(SK_PI, IDI) + int_auth
    assert responder_signed_octets(PRF, MSG2, NI, SK_PR, IDR, int_auth).endswith(int_auth)
