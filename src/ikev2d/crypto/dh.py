"""Key exchange methods: MODP (RFC 2409/3526), ECP (RFC 5903) and Curve25519 (RFC 8031).

`new_key_exchange(group, private=None, rng=None)` returns an object with `public_bytes()` (the
KE payload data) and `shared_secret(peer_public)` (g^ir as RFC 7296 §2.14 wants it). The private
value comes, in order of preference, from `private` (test vectors), from the injected
`rng(n) -> bytes`, or from `cryptography`'s (OpenSSL's) key generation. Peer values are
validated before use and a bad one raises InvalidKeData.

Performance: the MODP arithmetic runs in OpenSSL through `cryptography`'s FFDH, which measured
~0.37 ms per modexp for MODP2048 (OpenSSL 3.5+) against ~3 ms for Python's pow(); OpenSSL's own
key generation picks a short exponent (2 x security strength, e.g. 225 bits for MODP2048), and
so do we when the exponent comes from `rng` (RFC 3526 §8). If a future `cryptography` drops FFDH,
pow() takes over transparently.

`cryptography` is imported by the first key exchange, not with this module (see
`ikev2d.crypto.digests`).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from ikev2d.crypto.digests import constant_time_equal
from ikev2d.crypto.errors import InvalidKeData, UnsupportedTransform
from ikev2d.crypto.mlkem import MlKemInitiator, is_mlkem
from ikev2d.crypto.mlkem import respond as mlkem_respond
from ikev2d.crypto.modp_groups import MODP_GENERATOR, MODP_PRIMES
from ikev2d.wire.enums import DhId

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.dh import (
        DHParameterNumbers,
        DHParameters,
        DHPrivateKey,
    )

__all__ = [
    "EcpKeyExchange",
    "KeyExchange",
    "ModpKeyExchange",
    "X25519KeyExchange",
    "ephemeral_key_exchange",
    "new_key_exchange",
    "respond_key_exchange",
    "supported_groups",
]

Rng = Callable[[int], bytes]

#: Private exponent bits when we draw the exponent ourselves: at least twice the group's
#: strength (RFC 3526 §8, NIST SP 800-56A), as strongSwan does, instead of a full-size one.
_MODP_EXPONENT_BITS: dict[int, int] = {
    DhId.MODP1024: 256,
    DhId.MODP1536: 256,
    DhId.MODP2048: 256,
    DhId.MODP3072: 256,
    DhId.MODP4096: 320,
}

# (curve class name in cryptography's `ec`, coordinate length, group order n), RFC 5903 groups.
# Names, not classes: `cryptography` is imported with the first key exchange, not with this
# module, so a daemon waiting for its first client does not map it.
_ECP: dict[int, tuple[str, int, int]] = {
    DhId.ECP256: (
        "SECP256R1",
        32,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    DhId.ECP384: (
        "SECP384R1",
        48,
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
    ),
    DhId.ECP521: (
        "SECP521R1",
        66,
        int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
    ),
}

_ffdh_params: dict[int, tuple[DHParameterNumbers, DHParameters]] = {}


@functools.cache
def _ffdh_module() -> ModuleType | None:
    """cryptography's FFDH module, or None once cryptography drops it (deprecated there)."""
    try:
        from cryptography.hazmat.primitives.asymmetric import dh
    except ImportError:  # pragma: no cover
        return None
    return dh


# FFDH emits a deprecation warning in recent cryptography; using it is deliberate (speed), so
# every FFDH call runs under `with warnings.catch_warnings(): _quiet()`.
def _quiet() -> None:
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.simplefilter("ignore", CryptographyDeprecationWarning)


def _params(ffdh: ModuleType, group: int) -> tuple[DHParameterNumbers, DHParameters]:
    params = _ffdh_params.get(group)
    if params is None:
        with warnings.catch_warnings():
            _quiet()
            numbers = ffdh.DHParameterNumbers(MODP_PRIMES[group], MODP_GENERATOR)
            params = _ffdh_params[group] = (numbers, numbers.parameters())
    return params


def _openssl_key_for(group: int, x: int) -> tuple[DHPrivateKey | None, int]:
    """(OpenSSL key or None, g^x mod p) for a given exponent.

    g^x is computed by OpenSSL as the "shared secret" with the public value g (about 8x faster
    than pow() for MODP2048 on OpenSSL 3.5); the key is loaded with g as a placeholder public
    value, which is never used (only exchange() is called). Should a future OpenSSL refuse that
    pairing, pow() computes g^x and the key is loaded with the right value.
    """
    p = MODP_PRIMES[group]
    ffdh = _ffdh_module()
    if ffdh is None:
        return None, pow(MODP_GENERATOR, x, p)
    with warnings.catch_warnings():
        _quiet()
        numbers, _ = _params(ffdh, group)
        g = ffdh.DHPublicNumbers(MODP_GENERATOR, numbers)
        try:
            key = ffdh.DHPrivateNumbers(x, g).private_key()
            return key, int.from_bytes(key.exchange(g.public_key()), "big")
        except ValueError:
            y = pow(MODP_GENERATOR, x, p)
            key = ffdh.DHPrivateNumbers(x, ffdh.DHPublicNumbers(y, numbers)).private_key()
            return key, y


def _as_int(private: int | bytes) -> int:
    return private if isinstance(private, int) else int.from_bytes(private, "big")


class ModpKeyExchange:
    """Diffie-Hellman over a MODP group with a safe prime p and generator 2."""

    __slots__ = ("_key", "_public", "_x", "group", "p", "public_len")

    def __init__(self, group: int, private: int | bytes | None, rng: Rng | None) -> None:
        self.group = DhId(group)
        self.p = p = MODP_PRIMES[group]
        self.public_len = (p.bit_length() + 7) // 8
        self._key = None
        if private is None and rng is not None:
            nbits = _MODP_EXPONENT_BITS[group]
            # The top bit set keeps the exponent at full short length (never tiny).
            private = int.from_bytes(rng(nbits // 8), "big") | (1 << (nbits - 1))
        ffdh = _ffdh_module()
        if private is None and ffdh is not None:
            with warnings.catch_warnings():
                _quiet()
                self._key = _params(ffdh, group)[1].generate_private_key()
                y = self._key.public_key().public_numbers().y
            self._x = None
        elif private is None:
            raise ValueError("MODP key generation needs an rng with this cryptography")
        else:
            x = _as_int(private)
            if not 1 < x < p - 1:
                raise ValueError("MODP private exponent out of range")
            self._x = x
            self._key, y = _openssl_key_for(group, x)
        self._public = y.to_bytes(self.public_len, "big")

    def __repr__(self) -> str:
        return f"ModpKeyExchange({self.group.name})"

    def public_bytes(self) -> bytes:
        return self._public

    def shared_secret(self, peer_public: bytes) -> bytes:
        """g^ir, left-padded to the prime's length; validates 1 < y < p-1 and the length."""
        if len(peer_public) != self.public_len:
            raise InvalidKeData(self.group, f"length {len(peer_public)} != {self.public_len}")
        y = int.from_bytes(peer_public, "big")
        if not 1 < y < self.p - 1:
            raise InvalidKeData(self.group, "public value outside 1 < y < p-1")
        if self._key is None:
            assert self._x is not None  # no OpenSSL key: we hold the exponent (__init__)
            return pow(y, self._x, self.p).to_bytes(self.public_len, "big")
        ffdh = _ffdh_module()
        assert ffdh is not None  # it made self._key
        with warnings.catch_warnings():
            _quiet()
            numbers, _ = _params(ffdh, self.group)
            try:
                peer = ffdh.DHPublicNumbers(y, numbers).public_key()
                secret = self._key.exchange(peer)
            except ValueError as exc:  # OpenSSL's own public key check
                raise InvalidKeData(self.group, "rejected by OpenSSL") from exc
        out: bytes = secret.rjust(self.public_len, b"\0")
        return out


class EcpKeyExchange:
    """ECDH on a NIST prime curve, KE data x | y without the 0x04 prefix (RFC 5903 §7)."""

    __slots__ = ("_curve", "_key", "_public", "coord_len", "group", "public_len")

    def __init__(self, group: int, private: int | bytes | None, rng: Rng | None) -> None:
        self.group = DhId(group)
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        curve_name, self.coord_len, order = _ECP[group]
        self._curve = getattr(ec, curve_name)()
        self.public_len = 2 * self.coord_len
        if private is None and rng is not None:
            # FIPS 186-4 B.4.1: 64 extra bits make the reduction bias negligible.
            private = int.from_bytes(rng(self.coord_len + 8), "big") % (order - 1) + 1
        if private is None:
            self._key = ec.generate_private_key(self._curve)
        else:
            d = _as_int(private)
            if not 0 < d < order:
                raise ValueError("ECP private value out of range")
            self._key = ec.derive_private_key(d, self._curve)
        point = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self._public = point[1:]

    def __repr__(self) -> str:
        return f"EcpKeyExchange({self.group.name})"

    def public_bytes(self) -> bytes:
        return self._public

    def shared_secret(self, peer_public: bytes) -> bytes:
        """The x coordinate of the shared point (RFC 5903 §7); rejects off-curve points."""
        if len(peer_public) != self.public_len:
            raise InvalidKeData(self.group, f"length {len(peer_public)} != {self.public_len}")
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(
                self._curve, b"\x04" + bytes(peer_public)
            )
            secret: bytes = self._key.exchange(ec.ECDH(), peer)
        except ValueError as exc:
            raise InvalidKeData(self.group, "point not on the curve") from exc
        return secret


class X25519KeyExchange:
    """Curve25519 (RFC 8031): 32-byte u-coordinates; an all-zero result is refused."""

    __slots__ = ("_key", "_public", "group", "public_len")

    def __init__(self, private: bytes | None, rng: Rng | None) -> None:
        from cryptography.hazmat.primitives.asymmetric import x25519
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.group = DhId.CURVE25519
        self.public_len = 32
        if private is None and rng is not None:
            private = rng(32)
        if private is None:
            self._key = x25519.X25519PrivateKey.generate()
        else:
            if len(private) != 32:
                raise ValueError("X25519 private key must be 32 bytes")
            self._key = x25519.X25519PrivateKey.from_private_bytes(bytes(private))
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def __repr__(self) -> str:
        return "X25519KeyExchange(CURVE25519)"

    def public_bytes(self) -> bytes:
        return self._public

    def shared_secret(self, peer_public: bytes) -> bytes:
        if len(peer_public) != 32:
            raise InvalidKeData(self.group, f"length {len(peer_public)} != 32")
        from cryptography.hazmat.primitives.asymmetric import x25519

        try:
            peer = x25519.X25519PublicKey.from_public_bytes(bytes(peer_public))
            secret = self._key.exchange(peer)
        except ValueError as exc:  # OpenSSL refuses the all-zero output itself
            raise InvalidKeData(self.group, "all-zero shared secret") from exc
        # RFC 8031 §2.3 / RFC 7748 §6.1: a low-order peer value gives zero; never use it.
        if constant_time_equal(secret, bytes(32)):
            raise InvalidKeData(self.group, "all-zero shared secret")
        return secret


KeyExchange = ModpKeyExchange | EcpKeyExchange | X25519KeyExchange


def supported_groups() -> tuple[DhId, ...]:
    return (*(DhId(g) for g in (*MODP_PRIMES, *_ECP)), DhId.CURVE25519)


def new_key_exchange(
    group_id: int, private: int | bytes | None = None, rng: Rng | None = None
) -> KeyExchange:
    """A fresh key exchange for a KE method id (see the module docstring for `private`/`rng`).

    Raises UnsupportedTransform for a group we do not implement.
    """
    if group_id in MODP_PRIMES:
        return ModpKeyExchange(group_id, private, rng)
    if group_id in _ECP:
        return EcpKeyExchange(group_id, private, rng)
    if group_id == DhId.CURVE25519:
        if isinstance(private, int):
            raise TypeError("X25519 private key is 32 bytes, not an int")
        return X25519KeyExchange(private, rng)
    raise UnsupportedTransform(f"key exchange method {int(group_id)} not supported")


def ephemeral_key_exchange(group_id: int, rng: Rng) -> KeyExchange | MlKemInitiator:
    """A fresh key pair for one exchange, from the cheapest sound source for the group.

    EC private values come from ``rng`` (OpenSSL's generator checks the process id and the
    clock on every call: two system calls per handshake, which the daemon's random pool does
    not make); MODP exponents come from OpenSSL's FFDH key generation, the fastest path on
    every supported cryptography (loading an exponent of our own is 3x slower on 41.x).
    """
    if group_id in MODP_PRIMES and _ffdh_module() is not None:
        return ModpKeyExchange(group_id, None, None)
    if is_mlkem(group_id):
        return MlKemInitiator(group_id, rng=rng)
    return new_key_exchange(group_id, rng=rng)


def respond_key_exchange(group_id: int, peer_public: bytes, rng: Rng) -> tuple[bytes, bytes]:
    """The responder's side of one key exchange: (the data of our KE payload, the shared
    secret) for the initiator's KE data. Diffie-Hellman answers with a fresh public value, a
    KEM with a ciphertext (crypto.mlkem). InvalidKeData for a bad peer value."""
    if is_mlkem(group_id):
        return mlkem_respond(group_id, peer_public)
    kex = ephemeral_key_exchange(group_id, rng)
    return kex.public_bytes(), kex.shared_secret(peer_public)
