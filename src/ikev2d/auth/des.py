"""Single-block DES encryption for MS-CHAPv2 (RFC 2759 §8.6 DesEncrypt).

OpenSSL 3 keeps single DES in the legacy provider only, but three-key 3DES (DES-EDE3) stays
in the default provider: with K1 = K2 = K3 = K, EDE3 is E_K(D_K(E_K(x))) = E_K(x), plain DES.
cryptography moved TripleDES to `hazmat.decrepit` in 43 and drops the old name in 48, so the
decrepit name is tried first. Nothing but MS-CHAPv2 may use this module.
"""

import warnings

from cryptography.hazmat.primitives.ciphers import Cipher, modes

try:  # cryptography >= 43
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # cryptography 41/42: still in primitives, with a deprecation warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

__all__ = ["des_encrypt_block", "expand_des_key"]


def expand_des_key(key7: bytes) -> bytes:
    """Spread 56 key bits over 8 octets (7 bits each, high first) and set odd parity bits."""
    if len(key7) != 7:
        raise ValueError("a DES key expands from exactly 7 octets")
    bits = int.from_bytes(key7, "big")
    out = bytearray(8)
    for i in range(8):
        septet = (bits >> (49 - 7 * i)) & 0x7F
        octet = septet << 1
        # Odd parity over the whole octet: the low bit makes the count of ones odd.
        out[i] = octet | (bin(septet).count("1") + 1) % 2
    return bytes(out)


def des_encrypt_block(key7: bytes, block: bytes) -> bytes:
    """DES-ECB encryption of one 8-octet block with a 7-octet (56-bit) key."""
    if len(block) != 8:
        raise ValueError("DES encrypts 8-octet blocks")
    key = expand_des_key(key7)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # noqa: S305 - one block
    return encryptor.update(block) + encryptor.finalize()
