"""ENCR transforms: AES-CBC and 3DES-CBC (RFC 3602, RFC 2451), AES-GCM (RFC 5282) and
ChaCha20-Poly1305 (RFC 7634), all from `cryptography`, which is imported by the first cipher
built, not with this module (see `ikev2d.crypto.digests`).

`new_cipher(transform, key)` builds the object for one direction of one SA. For AEAD the key is
the keying material of `transform.key_len` bytes: cipher key followed by the 4-byte salt; the
nonce of every message is salt | 8-byte explicit IV (RFC 5282 §4, RFC 7634 §2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ikev2d.crypto.digests import BytesLike
from ikev2d.crypto.errors import IntegrityError, UnsupportedTransform
from ikev2d.crypto.transforms import Transform
from ikev2d.wire.enums import EncrId, TransformType

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

__all__ = ["AeadCipher", "CbcCipher", "new_cipher"]


def _triple_des() -> Callable[[bytes], BlockCipherAlgorithm]:
    try:  # cryptography >= 43 keeps 3DES here; it later leaves `algorithms`
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # cryptography 41/42
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    return TripleDES


class CbcCipher:
    """A block cipher in CBC mode (no padding: the SK layer pads per RFC 7296 §3.14).

    It keeps the key, not `cryptography`'s algorithm object: that object is built per message
    (a key-length check) instead of costing ~80 bytes per direction of every IKE SA."""

    __slots__ = ("_algorithm", "_key", "block_size", "iv_len", "transform")
    is_aead = False

    def __init__(self, transform: Transform, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import algorithms

        self.transform = transform
        self.block_size = transform.block_size
        self.iv_len = transform.iv_len
        self._algorithm: Callable[[bytes], BlockCipherAlgorithm] = (
            _triple_des() if transform.id == EncrId.TRIPLE_DES else algorithms.AES
        )
        self._algorithm(key)  # a wrong key length fails here, not at the first message
        self._key = key

    def __repr__(self) -> str:
        return f"CbcCipher({self.transform.keyword})"

    def encrypt(self, iv: bytes, data: BytesLike) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, modes

        enc = Cipher(self._algorithm(self._key), modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, iv: bytes, data: BytesLike) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, modes

        dec = Cipher(self._algorithm(self._key), modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()


class AeadCipher:
    """AES-GCM-16 or ChaCha20-Poly1305 with a 4-byte salt and an 8-byte explicit IV."""

    __slots__ = ("_aead", "_salt", "block_size", "icv_len", "iv_len", "transform")
    is_aead = True

    def __init__(self, transform: Transform, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

        self.transform = transform
        self.block_size = transform.block_size
        self.iv_len = transform.iv_len
        self.icv_len = transform.icv_len
        cipher_key, self._salt = key[: -transform.salt_len], key[-transform.salt_len :]
        self._aead: ChaCha20Poly1305 | AESGCM = (
            ChaCha20Poly1305(cipher_key)
            if transform.id == EncrId.CHACHA20_POLY1305
            else AESGCM(cipher_key)
        )

    def __repr__(self) -> str:
        return f"AeadCipher({self.transform.keyword})"

    def encrypt(self, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Ciphertext followed by the 16-byte ICV."""
        return self._aead.encrypt(self._salt + iv, plaintext, aad)

    def decrypt(self, iv: bytes, data: BytesLike, aad: BytesLike) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(self._salt + iv, data, aad)
        except InvalidTag:
            raise IntegrityError("AEAD tag mismatch") from None


def new_cipher(transform: Transform, key: bytes) -> CbcCipher | AeadCipher:
    """The cipher object for an ENCR transform and its keying material (salt included)."""
    if transform.type != TransformType.ENCR:
        raise UnsupportedTransform(f"{transform.keyword} is not an ENCR transform")
    if len(key) != transform.key_len:
        raise ValueError(f"{transform.keyword} needs {transform.key_len} key bytes")
    if transform.is_aead:
        return AeadCipher(transform, key)
    return CbcCipher(transform, key)
