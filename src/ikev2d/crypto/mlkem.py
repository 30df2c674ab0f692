"""ML-KEM (FIPS 203) as an IKEv2 key exchange method (draft-ietf-ipsecme-ikev2-mlkem), used as
an RFC 9370 additional key exchange next to the (EC)DH of IKE_SA_INIT or CREATE_CHILD_SA.

A KEM is not symmetric like Diffie-Hellman: the initiator *of the exchange* sends its
encapsulation key (ek) in its KE payload, the responder answers with a ciphertext and both end
with the same 32-byte shared secret. So the server, as responder, encapsulates
(`respond`), and in the rekeys it starts itself it generates a key pair and decapsulates
(`MlKemInitiator`, with the interface of crypto.dh's key exchanges).

The primitives come from `cryptography`, which has ML-KEM-768 and ML-KEM-1024 when it is new
enough and built with an OpenSSL that has them (3.5+); it has no ML-KEM-512, so that method is
never offered. `unavailable_reason()` says why a given installation has none (OpenWrt 24.10's
cryptography 41 has not). `cryptography`'s ML-KEM module is imported by the first use.

Input checks (FIPS 203 §7.2, §7.3): an ek of the wrong length or with a coefficient not reduced
mod q, or a ciphertext of the wrong length, raises InvalidKeData. A well-formed but wrong
ciphertext decapsulates to an unrelated secret (implicit rejection): the AUTH or ICV check that
follows fails instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ikev2d.crypto.errors import InvalidKeData, UnsupportedTransform
from ikev2d.crypto.transforms import lookup
from ikev2d.wire.enums import KeId, TransformType

__all__ = [
    "MLKEM_METHODS",
    "MlKemInitiator",
    "available_methods",
    "is_mlkem",
    "respond",
    "unavailable_reason",
]

Rng = Callable[[int], bytes]

# method -> class name stem in cryptography's mlkem module (sizes: the transform registry)
_STEMS: dict[int, str] = {
    KeId.ML_KEM_512: "MLKEM512",
    KeId.ML_KEM_768: "MLKEM768",
    KeId.ML_KEM_1024: "MLKEM1024",
}
#: Every ML-KEM method id, in the server's order of preference (768 first: NIST category 3 at
#: half the bytes of 1024, the size iOS/macOS and strongSwan 6 default to).
MLKEM_METHODS = (KeId.ML_KEM_768, KeId.ML_KEM_1024, KeId.ML_KEM_512)
_SEED_LEN = 64  # FIPS 203 key generation seed d | z


def is_mlkem(method: int) -> bool:
    return method in _STEMS


@functools.cache
def _module_or_reason() -> tuple[object | None, str]:
    try:
        from cryptography import __version__ as version
    except ImportError:  # pragma: no cover - the daemon cannot run without it anyway
        return None, "the Python cryptography package is missing"
    try:
        from cryptography.hazmat.primitives.asymmetric import mlkem
    except ImportError:
        return None, f"cryptography {version} has no ML-KEM (47 and newer have)"
    from cryptography.hazmat.backends.openssl.backend import backend

    if not backend.mlkem_supported():
        ssl = backend.openssl_version_text()
        return None, f"cryptography {version} is built with {ssl}, which has no ML-KEM"
    return mlkem, ""


def unavailable_reason() -> str:
    """Why this installation offers no ML-KEM ("" when it does)."""
    return _module_or_reason()[1]


@functools.cache
def available_methods() -> tuple[KeId, ...]:
    """The ML-KEM methods this installation can run, in order of preference."""
    module = _module_or_reason()[0]
    if module is None:
        return ()
    return tuple(m for m in MLKEM_METHODS if hasattr(module, _STEMS[m] + "PrivateKey"))


def _classes(method: int) -> tuple[Any, Any]:
    # (private key class, public key class): only newer cryptography has them, so untyped
    if method not in available_methods():
        why = unavailable_reason() or "not provided by this cryptography"
        raise UnsupportedTransform(f"key exchange method {int(method)} not supported: {why}")
    module = _module_or_reason()[0]
    stem = _STEMS[method]
    return getattr(module, stem + "PrivateKey"), getattr(module, stem + "PublicKey")


def respond(method: int, peer_ek: bytes) -> tuple[bytes, bytes]:
    """(ciphertext for our KE payload, shared secret) for the initiator's encapsulation key.

    Encapsulation draws its randomness from OpenSSL (cryptography takes none from us)."""
    _, public_cls = _classes(method)
    ek_len = lookup(TransformType.KE, method).public_len
    if len(peer_ek) != ek_len:
        raise InvalidKeData(method, f"length {len(peer_ek)} != {ek_len}")
    try:
        key = public_cls.from_public_bytes(bytes(peer_ek))
    except ValueError as exc:  # FIPS 203 §7.2 modulus check
        raise InvalidKeData(method, "encapsulation key not reduced mod q") from exc
    shared, ciphertext = key.encapsulate()
    return bytes(ciphertext), bytes(shared)


class MlKemInitiator:
    """Our side of an ML-KEM exchange we start: a fresh key pair; `shared_secret` decapsulates
    the responder's ciphertext."""

    __slots__ = ("_key", "_public", "ciphertext_len", "group", "public_len")

    def __init__(self, method: int, seed: bytes | None = None, rng: Rng | None = None) -> None:
        private_cls, _ = _classes(method)
        self.group = KeId(method)
        info = lookup(TransformType.KE, method)
        self.public_len, self.ciphertext_len = info.public_len, info.ciphertext_len
        if seed is None and rng is not None:
            seed = rng(_SEED_LEN)
        if seed is None:
            self._key = private_cls.generate()
        else:
            if len(seed) != _SEED_LEN:
                raise ValueError("an ML-KEM seed is 64 bytes (d | z)")
            self._key = private_cls.from_seed_bytes(bytes(seed))
        self._public: bytes = self._key.public_key().public_bytes_raw()

    def __repr__(self) -> str:
        return f"MlKemInitiator({self.group.name})"

    def public_bytes(self) -> bytes:
        return self._public

    def shared_secret(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) != self.ciphertext_len:
            raise InvalidKeData(
                self.group, f"ciphertext length {len(ciphertext)} != {self.ciphertext_len}"
            )
        secret: bytes = self._key.decapsulate(bytes(ciphertext))
        return secret
