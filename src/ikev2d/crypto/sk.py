"""The Encrypted (SK) and Encrypted Fragment (SKF) payloads (RFC 7296 §3.14, RFC 7383 §2.5).

An `SkCodec` protects one direction of one IKE SA. `seal` builds a whole message: the 28-byte
IKE header (its Next Payload set to SK/SKF and its Length patched), the SK/SKF header, the IV, the
encrypted payload chain with its padding and Pad Length, and the ICV. `open` reverses it.

- CBC (AES, 3DES) with HMAC: encrypt-then-MAC; the ICV covers the whole message up to the ICV
  (§3.14), checked in constant time before anything is decrypted.
- AEAD (AES-GCM-16, RFC 5282; ChaCha20-Poly1305, RFC 7634): 8-byte explicit IV, nonce =
  salt | IV, AAD = IKE header | SK(F) header (everything before the IV), no INTEG transform and no
  padding needed (block size 1), the 16-byte tag is the ICV.

Every failure while opening (short input, bad length, tag/ICV mismatch, bad padding) raises the
one IntegrityError so a caller cannot tell which check failed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ikev2d.crypto.encr import AeadCipher, new_cipher
from ikev2d.crypto.errors import IntegrityError
from ikev2d.crypto.keys import DirectionKeys
from ikev2d.crypto.prf import Integ, shared_integ
from ikev2d.crypto.transforms import Transform

__all__ = ["IKE_HEADER_LEN", "PAYLOAD_SK", "PAYLOAD_SKF", "SkCodec"]

IKE_HEADER_LEN = 28
PAYLOAD_SK = 46
PAYLOAD_SKF = 53
_NEXT_PAYLOAD_OFFSET = 16
_LENGTH_OFFSET = 24
_SK_HEADER = struct.Struct("!BBH")
_SKF_NUMBERS = struct.Struct("!HH")

Rng = Callable[[int], bytes]


class SkCodec:
    """SK/SKF protection for one direction, built from the negotiated ENCR and INTEG."""

    __slots__ = ("_cipher", "_integ", "_integ_key", "block_size", "icv_len", "is_aead", "iv_len")

    def __init__(self, encr: Transform, integ: Transform | None, keys: DirectionKeys) -> None:
        self._cipher = new_cipher(encr, keys.encr_key)
        self._integ: Integ | None
        self.is_aead = encr.is_aead
        self.iv_len = encr.iv_len
        self.block_size = encr.block_size
        if self.is_aead:
            if integ is not None:
                raise ValueError("RFC 5282: no INTEG transform with an AEAD cipher")
            self._integ = None
            self._integ_key = b""
            self.icv_len = encr.icv_len
        else:
            if integ is None:
                raise ValueError(f"{encr.keyword} needs an INTEG transform")
            if len(keys.integ_key) != integ.key_len:
                raise ValueError(f"{integ.keyword} needs {integ.key_len} key bytes")
            self._integ = shared_integ(integ)
            self._integ_key = keys.integ_key
            self.icv_len = integ.icv_len

    def __repr__(self) -> str:
        integ = self._integ.transform.keyword if self._integ else "aead"
        return f"SkCodec({self._cipher.transform.keyword}, {integ})"

    def _padded(self, plaintext: bytes) -> bytes:
        # §3.14: Pad Length is the last octet; padding makes the encrypted part a multiple of the
        # block size (1 for AEAD, so no padding there). Padding octets may be anything.
        pad_len = -(len(plaintext) + 1) % self.block_size
        return b"".join((plaintext, bytes(pad_len), bytes((pad_len,))))

    def sealed_len(self, plaintext_len: int, fragment: bool = False) -> int:
        """Length of the whole sealed message for a plaintext of this size (for fragmenting)."""
        body = plaintext_len + 1
        body += -body % self.block_size
        header = 8 if fragment else 4
        return IKE_HEADER_LEN + header + self.iv_len + body + self.icv_len

    def seal(
        self,
        header28: bytes,
        first_inner_type: int,
        plaintext: bytes,
        rng: Rng,
        fragment: tuple[int, int] | None = None,
    ) -> bytes:
        """The whole protected message. `fragment=(number, total)` builds an SKF payload."""
        if len(header28) != IKE_HEADER_LEN:
            raise ValueError("IKE header must be 28 bytes")
        padded = self._padded(plaintext)
        iv = rng(self.iv_len)
        if len(iv) != self.iv_len:
            raise ValueError("rng returned a short IV")
        sk_header = _SK_HEADER.size + (_SKF_NUMBERS.size if fragment else 0)
        payload_len = sk_header + self.iv_len + len(padded) + self.icv_len
        total = IKE_HEADER_LEN + payload_len
        out = bytearray(header28)
        out[_NEXT_PAYLOAD_OFFSET] = PAYLOAD_SKF if fragment else PAYLOAD_SK
        struct.pack_into("!I", out, _LENGTH_OFFSET, total)
        out += _SK_HEADER.pack(first_inner_type, 0, payload_len)
        if fragment:
            number, count = fragment
            if not 1 <= number <= count <= 0xFFFF:
                raise ValueError("fragment number must be within 1..total")
            out += _SKF_NUMBERS.pack(number, count)
        cipher, integ = self._cipher, self._integ
        if isinstance(cipher, AeadCipher):
            aad = bytes(out)
            out += iv
            out += cipher.encrypt(iv, padded, aad)
        else:
            if integ is None:  # a CBC codec always has one (__init__)
                raise ValueError("CBC without an INTEG transform")
            out += iv
            out += cipher.encrypt(iv, padded)
            out += integ.compute(self._integ_key, out)
        return bytes(out)

    def open(self, message: bytes, body_offset: int) -> bytes:
        """The decrypted payload chain of a protected message.

        `message[:body_offset]` is everything up to and including the SK/SKF payload header;
        the rest is IV | ciphertext | ICV.
        """
        view = memoryview(message)
        n = len(view)
        iv_len, icv_len = self.iv_len, self.icv_len
        if body_offset < IKE_HEADER_LEN + _SK_HEADER.size or body_offset > n:
            raise IntegrityError("bad SK payload offset")
        ct_len = n - body_offset - iv_len - icv_len
        # Non-empty ciphertext that is whole blocks (it holds at least the Pad Length octet).
        if ct_len < 1 or ct_len % self.block_size:
            raise IntegrityError("SK payload too short or not block aligned")
        iv = view[body_offset : body_offset + iv_len]
        cipher, integ = self._cipher, self._integ
        if isinstance(cipher, AeadCipher):
            padded = cipher.decrypt(bytes(iv), view[body_offset + iv_len :], view[:body_offset])
        else:
            if integ is None or not integ.verify(
                self._integ_key, view[: n - icv_len], view[n - icv_len :]
            ):
                raise IntegrityError("ICV mismatch")
            padded = cipher.decrypt(bytes(iv), view[body_offset + iv_len : n - icv_len])
        pad_len = padded[-1]
        if pad_len + 1 > len(padded):
            raise IntegrityError("bad padding")
        return padded[: len(padded) - pad_len - 1]
