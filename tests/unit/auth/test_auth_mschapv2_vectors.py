"""Known-answer tests: MD4 (RFC 1320 §A.5), MS-CHAPv2 (RFC 2759 §9.2), MPPE keys (RFC 3079 §3.5)."""

import pytest

from ikev2d.auth import mschapv2 as ms
from ikev2d.auth.des import des_encrypt_block, expand_des_key
from ikev2d.auth.md4 import md4

MD4_VECTORS = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]

# RFC 2759 §9.2
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
CHALLENGE = bytes.fromhex("D02E4386BCE91226")
PASSWORD_HASH = bytes.fromhex("44EBBA8D5312B8D611474411F56989AE")
PASSWORD_HASH_HASH = bytes.fromhex("41C00C584BD2D91C4017A2A12FA59F3F")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
AUTH_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
# RFC 3079 §3.5.3 (128-bit keys, same password and NT-Response)
MASTER_KEY = bytes.fromhex("FDECE3717A8C838CB388E527AE3CDD31")
SEND_START_KEY_128 = bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")


@pytest.mark.parametrize(("message", "digest"), MD4_VECTORS)
def test_md4_rfc1320_vectors(message, digest):
    assert md4(message).hex() == digest


def test_md4_block_boundaries_differ():
    # 55/56/64 octets exercise the one- and two-block padding paths.
    digests = {md4(b"x" * n) for n in (55, 56, 63, 64, 65, 119, 120)}
    assert len(digests) == 7


def test_rfc2759_intermediate_values():
    assert ms.nt_password_hash(PASSWORD) == PASSWORD_HASH
    assert md4(PASSWORD_HASH) == PASSWORD_HASH_HASH
    assert ms.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE
    assert ms.challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE


def test_rfc2759_nt_response_and_authenticator_response():
    assert ms.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD) == NT_RESPONSE
    got = ms.generate_authenticator_response(
        PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER
    )
    assert got == AUTH_RESPONSE


def test_challenge_hash_ignores_domain_prefix():
    assert ms.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "CORP\\User") == CHALLENGE


def test_rfc3079_master_and_send_key():
    assert ms.master_key(PASSWORD_HASH_HASH, NT_RESPONSE) == MASTER_KEY
    receive, send = ms.master_session_keys(PASSWORD_HASH_HASH, NT_RESPONSE)
    assert send == SEND_START_KEY_128  # server send key = Magic3, as in the RFC's sample
    assert receive != send and len(receive) == 16


def test_msk_layout_is_receive_send_and_zero_pad():
    receive, send = ms.master_session_keys(PASSWORD_HASH_HASH, NT_RESPONSE)
    key = ms.msk(PASSWORD_HASH_HASH, NT_RESPONSE)
    assert len(key) == ms.MSK_LENGTH == 64
    assert key == receive + send + bytes(32)


def test_des_key_expansion_sets_odd_parity():
    key = expand_des_key(bytes.fromhex("44EBBA8D5312B8"))
    assert all(bin(b).count("1") % 2 == 1 for b in key)
    assert expand_des_key(bytes(7)) == bytes([1] * 8)
    assert expand_des_key(b"\xff" * 7) == b"\xfe" * 8


def test_des_single_block_known_answer():
    # FIPS 81 / classic DES example: key 0x0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815.
    key7 = (0x0123456789ABCDEF).to_bytes(8, "big")
    bits = 0
    for octet in key7:  # drop the parity bits to get the 56-bit key back
        bits = (bits << 7) | (octet >> 1)
    assert expand_des_key(bits.to_bytes(7, "big")) == key7
    assert des_encrypt_block(bits.to_bytes(7, "big"), b"Now is t").hex() == "3fa40e8a984d4815"


def test_des_rejects_bad_lengths():
    with pytest.raises(ValueError):
        des_encrypt_block(bytes(8), bytes(8))
    with pytest.raises(ValueError):
        des_encrypt_block(bytes(7), bytes(7))
