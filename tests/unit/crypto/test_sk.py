"""The SK / SKF payload: layout, round trips for every ENCR/INTEG pair, tamper and padding."""

import hmac
import itertools
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ikev2d.crypto.errors import DecryptError, IntegrityError
from ikev2d.crypto.keys import DirectionKeys
from ikev2d.crypto.sk import SkCodec
from ikev2d.crypto.transforms import by_keyword

CBC = ["aes128", "aes192", "aes256", "3des"]
INTEG = ["sha1", "sha256", "sha384", "sha512"]
AEAD = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"]
COMBOS = [(e, i) for e in CBC for i in INTEG] + [(e, None) for e in AEAD]


def header(length=0, next_payload=0):
    # SPIi, SPIr, next payload, version 2.0, IKE_AUTH, flags (initiator), message id 1, length
    return (
        bytes(range(1, 9)) + bytes(range(9, 17))
        + struct.pack("!BBBBII", next_payload, 0x20, 35, 0x08, 1, length)
    )  # fmt: skip


def make(encr_kw, integ_kw, seed=1):
    encr = by_keyword(encr_kw)
    integ = by_keyword(integ_kw) if integ_kw else None
    ek = bytes((seed * 7 + i) % 256 for i in range(encr.key_len))
    ak = bytes((seed * 13 + i) % 256 for i in range(integ.key_len)) if integ else b""
    return SkCodec(encr, integ, DirectionKeys(ek, ak)), ek, ak


class Rng:
    def __init__(self, byte=0x5A):
        self.byte = byte

    def __call__(self, n):
        return bytes([self.byte]) * n


@pytest.mark.parametrize(("encr_kw", "integ_kw"), COMBOS)
@pytest.mark.parametrize("size", [0, 1, 7, 8, 15, 16, 17, 100, 1000])
def test_round_trip_every_combination(encr_kw, integ_kw, size):
    codec, _, _ = make(encr_kw, integ_kw)
    plaintext = bytes(i % 251 for i in range(size))
    msg = codec.seal(header(), 35, plaintext, Rng())
    assert len(msg) == codec.sealed_len(size)
    assert struct.unpack_from("!I", msg, 24)[0] == len(msg)  # IKE header length patched
    assert msg[16] == 46  # next payload: SK
    next_inner, critical, sk_len = struct.unpack_from("!BBH", msg, 28)
    assert (next_inner, critical, sk_len) == (35, 0, len(msg) - 28)
    assert codec.open(msg, 32) == plaintext
    encr = by_keyword(encr_kw)
    ct_len = len(msg) - 32 - encr.iv_len - codec.icv_len
    assert ct_len % encr.block_size == 0


def test_cbc_layout_matches_rfc_by_hand():
    codec, ek, ak = make("aes256", "sha256")
    plaintext = b"\x29" * 20  # 20 + pad length octet -> 11 octets padding to 32
    msg = codec.seal(header(), 41, plaintext, Rng(0x11))
    iv = b"\x11" * 16
    padded = plaintext + bytes(11) + b"\x0b"
    enc = Cipher(algorithms.AES(ek), modes.CBC(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    total = 28 + 4 + 16 + 32 + 16
    expected = header(total, 46) + struct.pack("!BBH", 41, 0, total - 28) + iv + ct
    expected += hmac.new(ak, expected, "sha256").digest()[:16]
    assert msg == expected


def test_gcm_layout_matches_rfc5282_by_hand():
    codec, ek, _ = make("aes128gcm16", None)
    plaintext = b"payloads"
    msg = codec.seal(header(), 33, plaintext, Rng(0x22))
    iv = b"\x22" * 8
    total = 28 + 4 + 8 + len(plaintext) + 1 + 16  # no padding, pad length octet 0
    aad = header(total, 46) + struct.pack("!BBH", 33, 0, total - 28)
    ct = AESGCM(ek[:16]).encrypt(ek[16:] + iv, plaintext + b"\x00", aad)
    assert msg == aad + iv + ct


@pytest.mark.parametrize(("encr_kw", "integ_kw"), COMBOS)
def test_any_flipped_byte_is_detected(encr_kw, integ_kw):
    codec, _, _ = make(encr_kw, integ_kw)
    msg = codec.seal(header(), 35, b"identity and auth payloads", Rng())
    for pos in range(len(msg)):
        bad = bytearray(msg)
        bad[pos] ^= 0x01
        with pytest.raises(IntegrityError):
            codec.open(bytes(bad), 32)


@pytest.mark.parametrize(("encr_kw", "integ_kw"), COMBOS)
def test_truncated_or_extended_input_is_rejected(encr_kw, integ_kw):
    codec, _, _ = make(encr_kw, integ_kw)
    msg = codec.seal(header(), 35, b"x" * 40, Rng())
    for cut in range(len(msg)):
        with pytest.raises(IntegrityError):
            codec.open(msg[:cut], min(32, cut))
    with pytest.raises(IntegrityError):
        codec.open(msg + b"\0", 32)
    for offset in (0, 31, len(msg) + 1):
        with pytest.raises(IntegrityError):
            codec.open(msg, offset)


def test_wrong_key_is_rejected():
    a, _, _ = make("aes256", "sha256", seed=1)
    b, _, _ = make("aes256", "sha256", seed=2)
    with pytest.raises(IntegrityError):
        b.open(a.seal(header(), 35, b"hello", Rng()), 32)
    a, _, _ = make("chacha20poly1305", None, seed=1)
    b, _, _ = make("chacha20poly1305", None, seed=2)
    with pytest.raises(DecryptError):
        b.open(a.seal(header(), 35, b"hello", Rng()), 32)


def _forge_cbc(ek, ak, padded):
    """A message with a valid ICV around arbitrary (possibly badly padded) plaintext."""
    iv = bytes(16)
    enc = Cipher(algorithms.AES(ek), modes.CBC(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    total = 28 + 4 + 16 + len(ct) + 16
    msg = header(total, 46) + struct.pack("!BBH", 35, 0, total - 28) + iv + ct
    return msg + hmac.new(ak, msg, "sha256").digest()[:16]


def test_cbc_padding_edge_cases():
    codec, ek, ak = make("aes128", "sha256")
    # Pad Length 15 in a single block: 0 octets of payload is fine.
    assert codec.open(_forge_cbc(ek, ak, bytes(15) + b"\x0f"), 32) == b""
    # Padding octets may hold any value (§3.14); the receiver only reads the length.
    assert codec.open(_forge_cbc(ek, ak, b"abc" + b"\xee" * 12 + b"\x0c"), 32) == b"abc"
    # A Pad Length larger than the decrypted data is refused even with a valid ICV.
    with pytest.raises(IntegrityError):
        codec.open(_forge_cbc(ek, ak, bytes(15) + b"\x10"), 32)
    with pytest.raises(IntegrityError):
        codec.open(_forge_cbc(ek, ak, bytes(15) + b"\xff"), 32)
    # Pad Length larger than a block is legal (up to 255) if the data holds it.
    assert codec.open(_forge_cbc(ek, ak, b"z" + bytes(30) + b"\x1e"), 32) == b"z"


def test_aead_bad_padding_with_valid_tag_is_refused():
    codec, ek, _ = make("aes256gcm16", None)
    iv = bytes(8)
    padded = b"\x05"  # Pad Length 5 but nothing before it
    total = 28 + 4 + 8 + 1 + 16
    aad = header(total, 46) + struct.pack("!BBH", 35, 0, total - 28)
    msg = aad + iv + AESGCM(ek[:32]).encrypt(ek[32:] + iv, padded, aad)
    with pytest.raises(IntegrityError):
        codec.open(msg, 32)


def test_padding_lengths_for_block_ciphers():
    codec, _, _ = make("aes256", "sha1")
    # plaintext + pad length octet rounded up to 16
    for size, body in [(0, 16), (14, 16), (15, 16), (16, 32), (31, 32), (32, 48)]:
        assert codec.sealed_len(size) == 28 + 4 + 16 + body + 12
    des, _, _ = make("3des", "sha1")
    assert des.sealed_len(7) == 28 + 4 + 8 + 8 + 12
    gcm, _, _ = make("aes128gcm16", None)
    assert gcm.sealed_len(10) == 28 + 4 + 8 + 11 + 16


@pytest.mark.parametrize(("encr_kw", "integ_kw"), [("aes256", "sha256"), ("aes256gcm16", None)])
def test_skf_fragment(encr_kw, integ_kw):
    codec, _, _ = make(encr_kw, integ_kw)
    msg = codec.seal(header(), 0, b"second fragment", Rng(), fragment=(2, 3))
    assert msg[16] == 53  # next payload: SKF
    assert struct.unpack_from("!BBHHH", msg, 28) == (0, 0, len(msg) - 28, 2, 3)
    assert len(msg) == codec.sealed_len(15, fragment=True)
    assert codec.open(msg, 36) == b"second fragment"
    bad = bytearray(msg)
    bad[33] ^= 1  # fragment number is authenticated
    with pytest.raises(IntegrityError):
        codec.open(bytes(bad), 36)
    for frag in ((0, 3), (4, 3), (1, 0)):
        with pytest.raises(ValueError):
            codec.seal(header(), 0, b"x", Rng(), fragment=frag)


def test_iv_comes_from_rng():
    codec, _, _ = make("aes128", "sha256")
    m1 = codec.seal(header(), 35, b"same", Rng(1))
    m2 = codec.seal(header(), 35, b"same", Rng(2))
    assert m1[32:48] == b"\x01" * 16 and m2[32:48] == b"\x02" * 16
    assert m1[48:] != m2[48:]
    with pytest.raises(ValueError):
        codec.seal(header(), 35, b"x", lambda n: b"short")


def test_construction_checks():
    with pytest.raises(ValueError):
        SkCodec(by_keyword("aes256gcm16"), by_keyword("sha256"), DirectionKeys(bytes(36), b""))
    with pytest.raises(ValueError):
        SkCodec(by_keyword("aes256"), None, DirectionKeys(bytes(32), b""))
    with pytest.raises(ValueError):
        SkCodec(by_keyword("aes256"), by_keyword("sha256"), DirectionKeys(bytes(32), bytes(20)))
    with pytest.raises(ValueError):
        make("aes256", "sha256")[0].seal(header()[:27], 35, b"", Rng())


def test_repr_has_no_keys():
    codec, ek, ak = make("aes256", "sha512")
    assert ak.hex() not in repr(codec)
    assert repr(codec) == "SkCodec(aes256, sha512)"
    assert ek.hex() not in repr(codec)


def test_combinations_cover_everything_offered():
    assert len(list(itertools.product(CBC, INTEG))) + len(AEAD) == len(COMBOS) == 19
