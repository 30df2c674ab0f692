"""One-shot hashes and HMAC from `cryptography`, and a constant-time comparison, without the
standard library's `hashlib`/`hmac`.

Why not hashlib: the daemon needs `cryptography` anyway, and `hashlib` loads `_hashlib`, a second
OpenSSL when the interpreter and the `cryptography` wheel each bring their own (~3.6 MB of RSS).
On cryptography 41 its HMAC costs ~6.5 us a call against ~1.8 us for `hmac.digest` (equal on
recent versions): ~0.1 ms per handshake for the ~25 MACs one needs.

`cryptography` itself is imported on first use, not when this module is: a daemon waiting for its
first client does not map it (~5-8 MB of RSS).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

try:  # the very function `hmac.compare_digest` is, without importing hmac (and hashlib)
    from _operator import _compare_digest as _compare
except ImportError:  # pragma: no cover - an interpreter without the C operator module
    import hmac

    _compare = hmac.compare_digest

__all__ = ["HASH_NAMES", "BytesLike", "HmacFn", "constant_time_equal", "digest", "hmac_function"]

# what the codec hands over without copying: message slices are memoryviews
BytesLike = bytes | bytearray | memoryview
HmacFn = Callable[[bytes, BytesLike], bytes]
constant_time_equal: Callable[[BytesLike, BytesLike], bool] = _compare

#: hash name (as the transform registry spells it) -> `cryptography.hazmat.primitives.hashes` class
HASH_NAMES = {"sha1": "SHA1", "sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}


@functools.cache
def _algorithm(hash_name: str) -> HashAlgorithm:
    """One shared instance of the hash algorithm (stateless, safe to reuse)."""
    from cryptography.hazmat.primitives import hashes

    algorithm: HashAlgorithm = getattr(hashes, HASH_NAMES[hash_name])()
    return algorithm


def digest(hash_name: str, data: BytesLike) -> bytes:
    """The hash of `data` (sha1, sha256, ...)."""
    from cryptography.hazmat.primitives.hashes import Hash

    h = Hash(_algorithm(hash_name))
    h.update(data)
    return h.finalize()


@functools.cache
def hmac_function(hash_name: str) -> HmacFn:
    """A one-shot `f(key, data) -> mac` for the named hash (one shared function per hash:
    every SA's Prf/Integ holds it, so it must not cost memory per SA)."""
    from cryptography.hazmat.primitives.hmac import HMAC

    algorithm = _algorithm(hash_name)

    def _mac(key: bytes, data: BytesLike) -> bytes:
        h = HMAC(key, algorithm)
        h.update(data)
        return h.finalize()

    return _mac
