"""Signature AUTH data: every method and hash round-trips; RFC 7427 Appendix A encodings."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ikev2d.auth.signatures import (
    ALGORITHM_IDENTIFIERS,
    SigScheme,
    choose_auth,
    encode_hash_algorithms,
    parse_hash_algorithms,
    sign_auth,
    verify_auth,
)
from ikev2d.wire.enums import AuthMethod, HashAlgorithm

OCTETS = b"RealMessage2 | Ni | prf(SK_pr, IDr')" * 3

# RFC 7427 Appendix A (A.1 PKCS#1 1.5, A.3 ECDSA, A.4.3 RSASSA-PSS with SHA-256)
RFC7427_HEX = {
    ("rsa-pkcs1", HashAlgorithm.SHA1): "300d06092a864886f70d0101050500",
    ("rsa-pkcs1", HashAlgorithm.SHA2_256): "300d06092a864886f70d01010b0500",
    ("rsa-pkcs1", HashAlgorithm.SHA2_384): "300d06092a864886f70d01010c0500",
    ("rsa-pkcs1", HashAlgorithm.SHA2_512): "300d06092a864886f70d01010d0500",
    ("ecdsa", HashAlgorithm.SHA1): "300906072a8648ce3d0401",
    ("ecdsa", HashAlgorithm.SHA2_256): "300a06082a8648ce3d040302",
    ("ecdsa", HashAlgorithm.SHA2_384): "300a06082a8648ce3d040303",
    ("ecdsa", HashAlgorithm.SHA2_512): "300a06082a8648ce3d040304",
    ("rsa-pss", HashAlgorithm.SHA2_256): (
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500"
        "a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"
    ),
}

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
P521 = ec.generate_private_key(ec.SECP521R1())


@pytest.mark.parametrize(("alg", "hexstr"), list(RFC7427_HEX.items()), ids=str)
def test_algorithm_identifier_bytes_match_rfc7427(alg, hexstr):
    scheme, hash_alg = alg
    matches = [
        der
        for der, a in ALGORITHM_IDENTIFIERS.items()
        if a.scheme.value == scheme and a.hash_alg == hash_alg
    ]
    assert matches == [bytes.fromhex(hexstr)]


@pytest.mark.parametrize(
    ("key", "method", "size"),
    [
        (P256, AuthMethod.ECDSA_256, 64),
        (P384, AuthMethod.ECDSA_384, 96),
        (P521, AuthMethod.ECDSA_521, 132),
    ],
)
def test_ecdsa_fixed_methods_round_trip_with_r_s_encoding(key, method, size):
    data = sign_auth(key, OCTETS, method)
    assert len(data) == size
    assert verify_auth(key.public_key(), OCTETS, method, data)
    assert not verify_auth(key.public_key(), OCTETS + b"x", method, data)
    assert not verify_auth(key.public_key(), OCTETS, method, data[:-1])


def test_ecdsa_method_refuses_wrong_curve():
    with pytest.raises(ValueError):
        sign_auth(P384, OCTETS, AuthMethod.ECDSA_256)
    data = sign_auth(P256, OCTETS, AuthMethod.ECDSA_256)
    assert not verify_auth(P384.public_key(), OCTETS, AuthMethod.ECDSA_384, data + data[:32])


def test_rsa_method_1_round_trip_and_is_sha1_pkcs1():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    data = sign_auth(RSA, OCTETS, AuthMethod.RSA_SIG)
    RSA.public_key().verify(data, OCTETS, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    assert verify_auth(RSA.public_key(), OCTETS, AuthMethod.RSA_SIG, data)
    assert not verify_auth(RSA.public_key(), OCTETS[1:], AuthMethod.RSA_SIG, data)
    assert not verify_auth(P256.public_key(), OCTETS, AuthMethod.RSA_SIG, data)


CASES_14 = (
    [
        (RSA, h, False)
        for h in (HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512)
    ]
    + [
        (RSA, h, True)
        for h in (HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512)
    ]
    + [
        (P256, HashAlgorithm.SHA2_256, False),
        (P384, HashAlgorithm.SHA2_384, False),
        (P256, HashAlgorithm.SHA2_512, False),
    ]
)


@pytest.mark.parametrize(("key", "hash_alg", "pss"), CASES_14, ids=repr)
def test_digital_signature_round_trip(key, hash_alg, pss):
    data = sign_auth(key, OCTETS, AuthMethod.DIGITAL_SIGNATURE, hash_alg, pss=pss)
    alg_id = data[1 : 1 + data[0]]
    algorithm = ALGORITHM_IDENTIFIERS[alg_id]
    assert algorithm.hash_alg == hash_alg
    expected_scheme = (
        SigScheme.ECDSA
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else (SigScheme.RSA_PSS if pss else SigScheme.RSA_PKCS1)
    )
    assert algorithm.scheme is expected_scheme
    assert verify_auth(key.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, data)
    assert not verify_auth(key.public_key(), OCTETS + b"!", AuthMethod.DIGITAL_SIGNATURE, data)
    tampered = bytearray(data)
    tampered[-1] ^= 1
    assert not verify_auth(key.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, bytes(tampered))


def test_digital_signature_rejects_unknown_or_mismatched_algorithm():
    data = sign_auth(RSA, OCTETS, AuthMethod.DIGITAL_SIGNATURE, HashAlgorithm.SHA2_256)
    # Claim SHA-384 in the AlgorithmIdentifier: the signature no longer verifies.
    swapped = data.replace(bytes.fromhex("01010b"), bytes.fromhex("01010c"), 1)
    assert not verify_auth(RSA.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, swapped)
    assert not verify_auth(RSA.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, b"")
    assert not verify_auth(RSA.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, b"\xff" * 9)
    assert not verify_auth(P256.public_key(), OCTETS, AuthMethod.DIGITAL_SIGNATURE, data)
    assert not verify_auth(RSA.public_key(), OCTETS, AuthMethod.SHARED_KEY_MIC, data)


def test_hash_algorithms_notify_and_choice():
    assert encode_hash_algorithms() == bytes.fromhex("000200030004")
    assert parse_hash_algorithms(bytes.fromhex("0001000200ff05")) == (1, 2, 255)
    assert parse_hash_algorithms(b"") == ()
    assert choose_auth(RSA, None) == (AuthMethod.RSA_SIG, None)
    assert choose_auth(RSA, (1, 4, 3)) == (AuthMethod.DIGITAL_SIGNATURE, HashAlgorithm.SHA2_384)
    assert choose_auth(P256, ()) == (AuthMethod.ECDSA_256, None)
    assert choose_auth(P384, (2, 3)) == (AuthMethod.DIGITAL_SIGNATURE, HashAlgorithm.SHA2_384)
    assert choose_auth(P384, (1,)) == (AuthMethod.ECDSA_384, None)
