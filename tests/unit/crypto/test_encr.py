"""ENCR ciphers against published vectors (RFC 3602, GCM spec test cases, RFC 8439 / RFC 7634)."""

import pytest

from ikev2d.crypto.encr import AeadCipher, CbcCipher, new_cipher
from ikev2d.crypto.errors import IntegrityError, UnsupportedTransform
from ikev2d.crypto.transforms import by_keyword


def test_aes_cbc_rfc3602_case1():
    key = bytes.fromhex("06a9214036b8a15b512e03d534120006")
    iv = bytes.fromhex("3dafba429d9eb430b422da802c9fac41")
    c = new_cipher(by_keyword("aes128"), key)
    assert isinstance(c, CbcCipher) and not c.is_aead
    ct = c.encrypt(iv, b"Single block msg")
    assert ct.hex() == "e353779c1079aeb82708942dbe77181a"
    assert c.decrypt(iv, ct) == b"Single block msg"


def test_aes_cbc_rfc3602_case2():
    key = bytes.fromhex("c286696d887c9aa0611bbb3e2025a45a")
    iv = bytes.fromhex("562e17996d093d28ddb3ba695a2e6f58")
    ct = new_cipher(by_keyword("aes128"), key).encrypt(iv, bytes(range(32)))
    assert ct.hex() == "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"


def test_3des_round_trip_and_block_size():
    c = new_cipher(by_keyword("3des"), bytes(range(24)))
    iv = bytes(8)
    ct = c.encrypt(iv, b"8 bytes!" * 3)
    assert len(ct) == 24 and ct != b"8 bytes!" * 3
    assert c.decrypt(iv, ct) == b"8 bytes!" * 3
    assert (c.iv_len, c.block_size) == (8, 8)


# GCM spec (McGrew/Viega) test cases 4 (AES-128) and 16 (AES-256): 96-bit IV with AAD.
GCM_IV = "cafebabefacedbaddecaf888"
GCM_P = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM_A = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
GCM_CASES = [
    (
        "aes128gcm16",
        "feffe9928665731c6d6a8f9467308308",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47",
    ),
    (
        "aes256gcm16",
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    ),
]


@pytest.mark.parametrize(("keyword", "key", "ct", "tag"), GCM_CASES)
def test_aes_gcm_vectors_with_rfc4106_salt_split(keyword, key, ct, tag):
    # RFC 5282/4106: the last 4 key-material bytes are the salt, the nonce is salt | 8-byte IV;
    # so the spec's 12-byte IV splits into salt "cafebabe" and IV "facedbaddecaf888".
    iv12 = bytes.fromhex(GCM_IV)
    c = new_cipher(by_keyword(keyword), bytes.fromhex(key) + iv12[:4])
    assert isinstance(c, AeadCipher)
    out = c.encrypt(iv12[4:], bytes.fromhex(GCM_P), bytes.fromhex(GCM_A))
    assert out.hex() == ct + tag
    assert c.decrypt(iv12[4:], out, bytes.fromhex(GCM_A)).hex() == GCM_P
    with pytest.raises(IntegrityError):
        c.decrypt(iv12[4:], out, bytes.fromhex(GCM_A)[:-1])
    with pytest.raises(IntegrityError):
        c.decrypt(iv12[4:], out[:-1] + bytes([out[-1] ^ 1]), bytes.fromhex(GCM_A))


def test_chacha20_poly1305_rfc8439_2_8_2_as_rfc7634():
    # RFC 8439 §2.8.2 nonce = 07000000 | 4041424344454647: exactly RFC 7634's salt | IV.
    key = bytes(range(0x80, 0xA0))
    salt, iv = bytes.fromhex("07000000"), bytes.fromhex("4041424344454647")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    pt = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
        b"the future, sunscreen would be it."
    )
    c = new_cipher(by_keyword("chacha20poly1305"), key + salt)
    out = c.encrypt(iv, pt, aad)
    assert out.hex() == (
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
        "3ff4def08e4b7a9de576d26586cec64b6116"
        "1ae10b594f09e26a7e902ecbd0600691"
    )
    assert c.decrypt(iv, out, aad) == pt
    with pytest.raises(IntegrityError):
        c.decrypt(bytes(8), out, aad)


def test_key_length_and_type_checked():
    with pytest.raises(ValueError):
        new_cipher(by_keyword("aes256gcm16"), bytes(32))  # salt missing
    with pytest.raises(ValueError):
        new_cipher(by_keyword("aes128"), bytes(32))
    with pytest.raises(UnsupportedTransform):
        new_cipher(by_keyword("sha256"), bytes(32))


def test_repr_has_no_key():
    c = new_cipher(by_keyword("aes256"), b"\x42" * 32)
    assert repr(c) == "CbcCipher(aes256)"
