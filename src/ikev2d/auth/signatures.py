"""Signature AUTH data (RFC 7296 §2.15, §3.8; RFC 4754; RFC 7427).

- Method 1 (RSA_SIG): RSASSA-PKCS1-v1_5 with SHA-1, the only hash RFC 7296 defines for it.
- Methods 9/10/11 (ECDSA_256/384/521): ECDSA on the named curve with its own hash, signature
  as r | s, each left-padded to the curve's octet length (RFC 4754 §7).
- Method 14 (DIGITAL_SIGNATURE): 1-octet length | AlgorithmIdentifier DER | signature, the
  signature in the algorithm's usual encoding (DER for ECDSA). The AlgorithmIdentifiers are the
  exact encodings of RFC 7427 Appendix A; a received one is matched byte for byte, which is
  also what keeps a peer from choosing odd PSS parameters.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ikev2d.wire.enums import AuthMethod, HashAlgorithm

from .certs import PrivateKey

__all__ = [
    "ALGORITHM_IDENTIFIERS",
    "OUR_HASH_ALGORITHMS",
    "SigScheme",
    "SignatureAlgorithm",
    "choose_auth",
    "encode_hash_algorithms",
    "parse_hash_algorithms",
    "sign_auth",
    "verify_auth",
]


class SigScheme(enum.Enum):
    RSA_PKCS1 = "rsa-pkcs1"
    RSA_PSS = "rsa-pss"
    ECDSA = "ecdsa"


_HashClass = type[hashes.SHA1] | type[hashes.SHA256] | type[hashes.SHA384] | type[hashes.SHA512]

_HASHES: dict[int, _HashClass] = {
    HashAlgorithm.SHA1: hashes.SHA1,
    HashAlgorithm.SHA2_256: hashes.SHA256,
    HashAlgorithm.SHA2_384: hashes.SHA384,
    HashAlgorithm.SHA2_512: hashes.SHA512,
}
_HASH_OIDS: dict[int, str] = {
    HashAlgorithm.SHA2_256: "2.16.840.1.101.3.4.2.1",
    HashAlgorithm.SHA2_384: "2.16.840.1.101.3.4.2.2",
    HashAlgorithm.SHA2_512: "2.16.840.1.101.3.4.2.3",
}
# Preference when we pick from the peer's SIGNATURE_HASH_ALGORITHMS.
OUR_HASH_ALGORITHMS = (HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512)


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes((n,)) if n < 0x80 else bytes((0x81, n))  # all ours are < 256 octets
    return bytes((tag,)) + length + content


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _der(0x06, bytes(out))


_NULL = b"\x05\x00"


def _alg_id(oid: str, params: bytes = b"") -> bytes:
    return _der(0x30, _oid(oid) + params)


def _pss_alg_id(h: HashAlgorithm) -> bytes:
    """RSASSA-PSS with hash h, MGF1 with h, salt length = hash length (RFC 7427 A.4.3)."""
    hash_id = _alg_id(_HASH_OIDS[h], _NULL)
    mgf1 = _alg_id("1.2.840.113549.1.1.8", hash_id)
    salt = _der(0x02, bytes((_HASHES[h].digest_size,)))
    params = _der(0x30, _der(0xA0, hash_id) + _der(0xA1, mgf1) + _der(0xA2, salt))
    return _alg_id("1.2.840.113549.1.1.10", params)


@dataclass(slots=True, frozen=True)
class SignatureAlgorithm:
    scheme: SigScheme
    hash_alg: HashAlgorithm


# AlgorithmIdentifier DER -> algorithm, for method 14 (RFC 7427 Appendix A).
ALGORITHM_IDENTIFIERS: dict[bytes, SignatureAlgorithm] = {
    _alg_id("1.2.840.113549.1.1.5", _NULL): SignatureAlgorithm(
        SigScheme.RSA_PKCS1, HashAlgorithm.SHA1
    ),
    _alg_id("1.2.840.113549.1.1.11", _NULL): SignatureAlgorithm(
        SigScheme.RSA_PKCS1, HashAlgorithm.SHA2_256
    ),
    _alg_id("1.2.840.113549.1.1.12", _NULL): SignatureAlgorithm(
        SigScheme.RSA_PKCS1, HashAlgorithm.SHA2_384
    ),
    _alg_id("1.2.840.113549.1.1.13", _NULL): SignatureAlgorithm(
        SigScheme.RSA_PKCS1, HashAlgorithm.SHA2_512
    ),
    _alg_id("1.2.840.10045.4.1"): SignatureAlgorithm(SigScheme.ECDSA, HashAlgorithm.SHA1),
    _alg_id("1.2.840.10045.4.3.2"): SignatureAlgorithm(SigScheme.ECDSA, HashAlgorithm.SHA2_256),
    _alg_id("1.2.840.10045.4.3.3"): SignatureAlgorithm(SigScheme.ECDSA, HashAlgorithm.SHA2_384),
    _alg_id("1.2.840.10045.4.3.4"): SignatureAlgorithm(SigScheme.ECDSA, HashAlgorithm.SHA2_512),
    **{
        _pss_alg_id(h): SignatureAlgorithm(SigScheme.RSA_PSS, h)
        for h in (HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512)
    },
}
_ALG_ID_BY_ALGORITHM = {alg: der for der, alg in ALGORITHM_IDENTIFIERS.items()}

# RFC 4754: method -> (curve, hash, octets per coordinate)
_ECDSA_METHODS = {
    AuthMethod.ECDSA_256: (ec.SECP256R1, HashAlgorithm.SHA2_256, 32),
    AuthMethod.ECDSA_384: (ec.SECP384R1, HashAlgorithm.SHA2_384, 48),
    AuthMethod.ECDSA_521: (ec.SECP521R1, HashAlgorithm.SHA2_512, 66),
}
_CURVE_HASH = {"secp256r1": HashAlgorithm.SHA2_256, "secp384r1": HashAlgorithm.SHA2_384}


def encode_hash_algorithms(algs: Iterable[int] = OUR_HASH_ALGORITHMS) -> bytes:
    """Notification data of SIGNATURE_HASH_ALGORITHMS: 2 octets per hash (RFC 7427 §4)."""
    return b"".join(struct.pack("!H", a) for a in algs)


def parse_hash_algorithms(data: bytes) -> tuple[int, ...]:
    """The peer's hash list; a trailing odd octet is ignored, the list is bounded."""
    count = min(len(data) // 2, 64)
    return struct.unpack_from(f"!{count}H", data) if count else ()


def choose_auth(
    private_key: PrivateKey, peer_hashes: Iterable[int] | None
) -> tuple[AuthMethod, int | None]:
    """Pick (auth method, hash) for our AUTH: method 14 with the first of our hashes the
    peer announced, else the classic method (1 for RSA, 9/10/11 for ECDSA)."""
    offered = set(peer_hashes or ())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        curve_hash = _CURVE_HASH.get(private_key.curve.name)
        if curve_hash in offered:
            return AuthMethod.DIGITAL_SIGNATURE, curve_hash
    for h in OUR_HASH_ALGORITHMS:
        if h in offered:
            return AuthMethod.DIGITAL_SIGNATURE, h
    if isinstance(private_key, rsa.RSAPrivateKey):
        return AuthMethod.RSA_SIG, None
    for method, (curve, _h, _n) in _ECDSA_METHODS.items():
        if isinstance(private_key.curve, curve):
            return method, None
    raise ValueError("no signature method for this key")


def sign_auth(
    private_key: PrivateKey, octets: bytes, method: int, hash_alg: int | None = None, *,
    pss: bool = False,
) -> bytes:  # fmt: skip
    """AUTH data over `octets` (the InitiatorSignedOctets/ResponderSignedOctets)."""
    if method == AuthMethod.RSA_SIG:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("this auth method needs an RSA key")
        return private_key.sign(octets, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    if method in _ECDSA_METHODS:
        curve, h, size = _ECDSA_METHODS[AuthMethod(method)]
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("this auth method needs an ECDSA key")
        if not isinstance(private_key.curve, curve):
            raise ValueError(f"auth method {method} needs a {curve.name} key")
        r, s = decode_dss_signature(private_key.sign(octets, ec.ECDSA(_HASHES[h]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if method == AuthMethod.DIGITAL_SIGNATURE:
        h = HashAlgorithm(hash_alg if hash_alg is not None else HashAlgorithm.SHA2_256)
        if isinstance(private_key, rsa.RSAPrivateKey):
            scheme = SigScheme.RSA_PSS if pss else SigScheme.RSA_PKCS1
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            scheme = SigScheme.ECDSA
        else:  # a key type the PKI never makes (an imported Ed25519 key, say)
            raise ValueError("this auth method needs an RSA or ECDSA key")
        algorithm = SignatureAlgorithm(scheme, h)
        alg_id = _ALG_ID_BY_ALGORITHM.get(algorithm)
        if alg_id is None:
            raise ValueError(f"unsupported signature algorithm {scheme.value}/{h.name}")
        signature = _sign(private_key, algorithm, octets)
        return bytes((len(alg_id),)) + alg_id + signature
    raise ValueError(f"auth method {method} is not a signature method")


def verify_auth(
    key_or_cert: x509.Certificate | object, octets: bytes, method: int, auth_data: bytes
) -> bool:
    """True iff `auth_data` is a valid signature by the key (or certificate's key)."""
    public_key = (
        key_or_cert.public_key() if isinstance(key_or_cert, x509.Certificate) else key_or_cert
    )
    try:
        if method == AuthMethod.RSA_SIG:
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            public_key.verify(auth_data, octets, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
            return True
        if method in _ECDSA_METHODS:
            return _verify_ecdsa_fixed(public_key, octets, AuthMethod(method), auth_data)
        if method == AuthMethod.DIGITAL_SIGNATURE:
            return _verify_digital_signature(public_key, octets, auth_data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return False


def _verify_ecdsa_fixed(
    public_key: object, octets: bytes, method: AuthMethod, auth_data: bytes
) -> bool:
    curve, h, size = _ECDSA_METHODS[method]
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, curve
    ):
        return False
    if len(auth_data) != 2 * size:
        return False
    r = int.from_bytes(auth_data[:size], "big")
    s = int.from_bytes(auth_data[size:], "big")
    public_key.verify(encode_dss_signature(r, s), octets, ec.ECDSA(_HASHES[h]()))
    return True


def _verify_digital_signature(public_key: object, octets: bytes, auth_data: bytes) -> bool:
    if not auth_data:
        return False
    alg_len = auth_data[0]
    algorithm = ALGORITHM_IDENTIFIERS.get(bytes(auth_data[1 : 1 + alg_len]))
    signature = bytes(auth_data[1 + alg_len :])
    if algorithm is None or not signature:
        return False
    if algorithm.scheme is SigScheme.ECDSA:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return False
        public_key.verify(signature, octets, ec.ECDSA(_HASHES[algorithm.hash_alg]()))
        return True
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    public_key.verify(signature, octets, _rsa_padding(algorithm), _HASHES[algorithm.hash_alg]())
    return True


def _rsa_padding(algorithm: SignatureAlgorithm) -> padding.PSS | padding.PKCS1v15:
    if algorithm.scheme is SigScheme.RSA_PSS:
        h = _HASHES[algorithm.hash_alg]
        return padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size)
    return padding.PKCS1v15()


def _sign(private_key: PrivateKey, algorithm: SignatureAlgorithm, octets: bytes) -> bytes:
    h = _HASHES[algorithm.hash_alg]()
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(octets, ec.ECDSA(h))
    return private_key.sign(octets, _rsa_padding(algorithm), h)
