"""PRF and integrity (HMAC) transforms, and prf+ (RFC 7296 §2.13).

The HMAC is `cryptography`'s, through `ikev2d.crypto.digests` (why not the standard library's
`hmac`: see there).
"""

from __future__ import annotations

import functools

from ikev2d.crypto.digests import BytesLike, constant_time_equal, hmac_function
from ikev2d.crypto.errors import UnsupportedTransform
from ikev2d.crypto.transforms import Transform, UnknownTransform, lookup
from ikev2d.wire.enums import TransformType

__all__ = ["Integ", "Prf", "hmac_function", "shared_integ", "shared_prf"]


def _transform(ttype: TransformType, ident: int | Transform) -> Transform:
    if isinstance(ident, Transform):
        if ident.type != ttype:
            raise UnsupportedTransform(f"{ident.keyword} is not a {ttype.name} transform")
        return ident
    try:
        return lookup(ttype, ident)
    except UnknownTransform:
        raise UnsupportedTransform(f"{ttype.name} {int(ident)} not supported") from None


class Prf:
    """A negotiated PRF: `compute(key, data)` and `plus(key, seed, length)` (prf+)."""

    __slots__ = ("_mac", "fixed_key_len", "key_len", "output_len", "transform")

    def __init__(self, prf_id: int | Transform) -> None:
        self.transform = _transform(TransformType.PRF, prf_id)
        self._mac = hmac_function(self.transform.hash_name)
        self.output_len = self.transform.output_len
        #: Preferred key length (RFC 7296 §2.13): the size of SK_d, SK_pi and SK_pr.
        self.key_len = self.transform.key_len
        #: HMAC accepts keys of any length; AES-XCBC/CMAC PRFs would set 16 here (§2.14).
        self.fixed_key_len: int | None = None

    def __repr__(self) -> str:
        return f"Prf({self.transform.keyword})"

    def compute(self, key: bytes, data: bytes) -> bytes:
        return self._mac(key, data)

    def plus(self, key: bytes, seed: bytes, length: int) -> bytes:
        """prf+ (RFC 7296 §2.13): T1 | T2 | ... truncated to `length` bytes.

        T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); n is one octet, so at most 255
        blocks can be produced.
        """
        if length < 0:
            raise ValueError("negative prf+ length")
        blocks = -(-length // self.output_len)
        if blocks > 255:
            raise ValueError(f"prf+ cannot produce {length} bytes with {self.transform.keyword}")
        mac = self._mac
        out = bytearray()
        t = b""
        for n in range(1, blocks + 1):
            t = mac(key, t + seed + bytes((n,)))
            out += t
        return bytes(out[:length])


class Integ:
    """A negotiated integrity transform (HMAC truncated per RFC 2404 / RFC 4868)."""

    __slots__ = ("_mac", "icv_len", "key_len", "transform")

    def __init__(self, integ_id: int | Transform) -> None:
        self.transform = _transform(TransformType.INTEG, integ_id)
        self._mac = hmac_function(self.transform.hash_name)
        self.icv_len = self.transform.icv_len
        self.key_len = self.transform.key_len

    def __repr__(self) -> str:
        return f"Integ({self.transform.keyword})"

    def compute(self, key: bytes, data: BytesLike) -> bytes:
        return self._mac(key, data)[: self.icv_len]

    def verify(self, key: bytes, data: BytesLike, icv: BytesLike) -> bool:
        """Constant-time check of a received ICV."""
        return constant_time_equal(self.compute(key, data), icv)


# Prf and Integ hold no key and no state: every SA negotiating the same transform shares one
# object instead of keeping its own (three per client: the IKE SA's PRF, two SK codecs' INTEG).
@functools.cache
def shared_prf(transform: Transform) -> Prf:
    return Prf(transform)


@functools.cache
def shared_integ(transform: Transform) -> Integ:
    return Integ(transform)
