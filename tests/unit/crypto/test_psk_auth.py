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
