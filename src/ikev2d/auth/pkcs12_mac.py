"""The MAC of a PKCS#12 file, recomputed with a real iteration count (RFC 7292 §4, App. B).

A `.p12` is protected twice by its password: the key bags are encrypted (PBE, 20000 rounds
here) and the whole file carries an HMAC whose key is derived from the password. Guessing
attacks take the cheaper of the two, and cryptography 41 (OpenWrt 24.10) writes the MAC with
an iteration count of 1 (later versions 2048). `strengthen_mac` rewrites the MacData with
MAC_ITERATIONS, so a copied file costs the same per guess on every supported version.

Only the DER that cryptography itself writes is handled: PFX { version, authSafe
ContentInfo(data, [0] OCTET STRING), MacData { DigestInfo(SHA-1), salt, iterations } }.
"""

from __future__ import annotations

from ikev2d.crypto.digests import digest, hmac_function

__all__ = ["MAC_ITERATIONS", "mac_iterations", "strengthen_mac"]

MAC_ITERATIONS = 20000  # as many as the key bags' PBE: neither is the cheaper target
_SEQUENCE, _INTEGER, _OCTETS, _CONTEXT0 = 0x30, 0x02, 0x04, 0xA0
_SHA1_BLOCK, _SHA1_SIZE = 64, 20
_MAC_KEY_ID = 3  # RFC 7292 B.3: key material for MACing


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at `pos`."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("DER element runs past the end")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, tag: int) -> tuple[int, int]:
    found, start, end = _tlv(data, pos)
    if found != tag:
        raise ValueError(f"DER tag {found:#x} where {tag:#x} was expected")
    return start, end


def _encode(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    size = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + n.to_bytes(size, "big") + value


def _integer(n: int) -> bytes:
    return _encode(_INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _parts(p12: bytes) -> tuple[bytes, bytes, bytes, bytes, int]:
    """(version TLV, authSafe TLV, its content octets, MAC salt, MAC iterations)."""
    start, _ = _expect(p12, 0, _SEQUENCE)
    _, _, version_end = _tlv(p12, start)
    safe_start, safe_end = _expect(p12, version_end, _SEQUENCE)
    _, _, oid_end = _tlv(p12, safe_start)  # contentType: data
    explicit, _ = _expect(p12, oid_end, _CONTEXT0)
    content_start, content_end = _expect(p12, explicit, _OCTETS)
    mac_start, mac_end = _expect(p12, safe_end, _SEQUENCE)
    _, _, digest_info_end = _tlv(p12, mac_start)
    salt_start, salt_end = _expect(p12, digest_info_end, _OCTETS)
    iterations = 1
    if salt_end < mac_end:
        count_start, count_end = _expect(p12, salt_end, _INTEGER)
        iterations = int.from_bytes(p12[count_start:count_end], "big")
    return (
        p12[start:version_end],
        p12[version_end:safe_end],
        p12[content_start:content_end],
        p12[salt_start:salt_end],
        iterations,
    )


def mac_iterations(p12: bytes) -> int:
    """The iteration count of the file's MAC."""
    return _parts(p12)[4]


def _mac_key(password: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 B.2 with SHA-1 for a 20-byte key (one block: no I update needed)."""
    bmp = password.decode("utf-8").encode("utf-16-be") + b"\0\0"

    def stretch(s: bytes) -> bytes:
        blocks = -(-len(s) // _SHA1_BLOCK)
        return (s * (blocks * _SHA1_BLOCK // len(s) + 1))[: blocks * _SHA1_BLOCK]

    value = bytes([_MAC_KEY_ID]) * _SHA1_BLOCK + stretch(salt) + stretch(bmp)
    for _ in range(iterations):
        value = digest("sha1", value)  # the RFC's hash for this MAC
    return value[:_SHA1_SIZE]


def strengthen_mac(p12: bytes, password: bytes, iterations: int = MAC_ITERATIONS) -> bytes:
    """`p12` with its MAC recomputed over `iterations` (unchanged when it has as many)."""
    version, auth_safe, content, salt, found = _parts(p12)
    if found >= iterations:
        return p12
    mac = hmac_function("sha1")(_mac_key(password, salt, iterations), content)
    sha1 = bytes.fromhex("300906052b0e03021a0500")  # AlgorithmIdentifier { sha1, NULL }
    mac_data = _encode(
        _SEQUENCE,
        _encode(_SEQUENCE, sha1 + _encode(_OCTETS, mac))
        + _encode(_OCTETS, salt)
        + _integer(iterations),
    )
    return _encode(_SEQUENCE, version + auth_safe + mac_data)
