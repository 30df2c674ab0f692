"""MD4 (RFC 1320), only for the MS-CHAPv2 NT password hash.

OpenSSL 3 moved MD4 to the legacy provider, which OpenWrt builds may lack and which we must not
load just for this (it would re-enable every legacy algorithm). MS-CHAPv2 hashes a password of at
most 512 bytes once per authentication, so a small pure-Python MD4 costs nothing that matters.
MD4 is broken as a general hash: nothing else may use this module.
"""

import struct

__all__ = ["md4"]

_MASK = 0xFFFFFFFF
_WORDS = struct.Struct("<16I")
# Round 2 and 3 additive constants and the per-step shift amounts (RFC 1320 §3.4).
_K2, _K3 = 0x5A827999, 0x6ED9EBA1
_S1, _S2, _S3 = (3, 7, 11, 19), (3, 5, 9, 13), (3, 9, 11, 15)
_ORDER2 = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
_ORDER3 = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def _compress(state: list[int], block: tuple[int, ...]) -> None:
    a, b, c, d = state
    for i in range(16):
        f = (b & c) | (~b & d)
        a, b, c, d = d, _rotl((a + f + block[i]) & _MASK, _S1[i % 4]), b, c
    for i, k in enumerate(_ORDER2):
        g = (b & c) | (b & d) | (c & d)
        a, b, c, d = d, _rotl((a + g + block[k] + _K2) & _MASK, _S2[i % 4]), b, c
    for i, k in enumerate(_ORDER3):
        h = b ^ c ^ d
        a, b, c, d = d, _rotl((a + h + block[k] + _K3) & _MASK, _S3[i % 4]), b, c
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """The 16-byte MD4 digest of `data`."""
    bit_len = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    padded = bytes(data) + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", bit_len)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    view = memoryview(padded)
    for off in range(0, len(padded), 64):
        _compress(state, _WORDS.unpack_from(view, off))
    return struct.pack("<4I", *state)
