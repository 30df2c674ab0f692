"""PRF, INTEG and prf+ against published vectors (RFC 4231, RFC 2202) and the §2.13 definition."""

import hmac

import pytest

from ikev2d.crypto.errors import UnsupportedTransform
from ikev2d.crypto.prf import Integ, Prf
from ikev2d.wire.enums import IntegId, PrfId

# RFC 4231 §4: test cases 1, 2, 6 (key longer than the block size) and 5 (truncated to 128 bits).
KEY1, DATA1 = b"\x0b" * 20, b"Hi There"
KEY2, DATA2 = b"Jefe", b"what do ya want for nothing?"
KEY5, DATA5 = b"\x0c" * 20, b"Test With Truncation"
KEY6, DATA6 = b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"

RFC4231 = {
    PrfId.HMAC_SHA2_256: [
        (KEY1, DATA1, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (KEY2, DATA2, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (KEY6, DATA6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ],
    PrfId.HMAC_SHA2_384: [
        (
            KEY1,
            DATA1,
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            KEY2,
            DATA2,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
            "8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            KEY6,
            DATA6,
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
            "0c2ef6ab4030fe8296248df163f44952",
        ),
    ],
    PrfId.HMAC_SHA2_512: [
        (
            KEY1,
            DATA1,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            KEY2,
            DATA2,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (
            KEY6,
            DATA6,
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
            "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
        ),
    ],
}
# RFC 2202 §3 test case 1 (HMAC-SHA1).
SHA1_CASE1 = "b617318655057264e28bc0b6fb378c8ef146be00"


@pytest.mark.parametrize(
    ("prf_id", "key", "data", "expected"),
    [(p, k, d, e) for p, cases in RFC4231.items() for k, d, e in cases],
)
def test_prf_rfc4231(prf_id, key, data, expected):
    prf = Prf(prf_id)
    assert prf.compute(key, data).hex() == expected
    assert prf.output_len == len(expected) // 2 == prf.key_len


def test_prf_sha1_rfc2202():
    assert Prf(PrfId.HMAC_SHA1).compute(KEY1, DATA1).hex() == SHA1_CASE1


@pytest.mark.parametrize(
    ("integ_id", "expected"),
    [
        (IntegId.HMAC_SHA1_96, SHA1_CASE1[:24]),  # RFC 2404: first 96 bits
        (IntegId.HMAC_SHA2_256_128, RFC4231[PrfId.HMAC_SHA2_256][0][2][:32]),
        (IntegId.HMAC_SHA2_384_192, RFC4231[PrfId.HMAC_SHA2_384][0][2][:48]),
        (IntegId.HMAC_SHA2_512_256, RFC4231[PrfId.HMAC_SHA2_512][0][2][:64]),
    ],
)
def test_integ_truncation(integ_id, expected):
    integ = Integ(integ_id)
    icv = integ.compute(KEY1, DATA1)
    assert icv.hex() == expected
    assert len(icv) == integ.icv_len
    assert integ.verify(KEY1, DATA1, icv)
    assert not integ.verify(KEY1, DATA1, bytes([icv[0] ^ 1]) + icv[1:])
    assert not integ.verify(KEY1, DATA1 + b"!", icv)
    assert not integ.verify(KEY1, DATA1, icv[:-1])


def test_integ_sha256_128_rfc4231_case5_truncated_vector():
    # RFC 4231 test case 5 publishes only the first 128 bits: exactly HMAC-SHA2-256-128.
    assert Integ(IntegId.HMAC_SHA2_256_128).compute(KEY5, DATA5).hex() == (
        "a3b6167473100ee06e0c796c2955552b"
    )


def _prf_plus_by_definition(hash_name, key, seed, length):
    """§2.13 written out longhand: T1 = prf(K, S|0x01), Tn = prf(K, Tn-1|S|n)."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = hmac.new(key, t + seed + bytes([n]), hash_name).digest()
        out += t
        n += 1
    return out[:length]


@pytest.mark.parametrize(
    ("prf_id", "hash_name"),
    [
        (PrfId.HMAC_SHA1, "sha1"),
        (PrfId.HMAC_SHA2_256, "sha256"),
        (PrfId.HMAC_SHA2_384, "sha384"),
        (PrfId.HMAC_SHA2_512, "sha512"),
    ],
)
@pytest.mark.parametrize("length", [0, 1, 20, 32, 33, 100, 231])
def test_prf_plus_matches_definition(prf_id, hash_name, length):
    key, seed = bytes(range(40)), b"Ni" * 16 + b"Nr" * 16 + b"SPIiSPIiSPIrSPIr"
    got = Prf(prf_id).plus(key, seed, length)
    assert got == _prf_plus_by_definition(hash_name, key, seed, length)
    assert len(got) == length


def test_prf_plus_worked_example_first_blocks():
    # T1 and T2 computed by hand for a 2-block request.
    prf = Prf(PrfId.HMAC_SHA2_256)
    key, seed = b"K" * 32, b"S"
    t1 = hmac.new(key, b"S\x01", "sha256").digest()
    t2 = hmac.new(key, t1 + b"S\x02", "sha256").digest()
    assert prf.plus(key, seed, 64) == t1 + t2
    assert prf.plus(key, seed, 40) == (t1 + t2)[:40]


def test_prf_plus_refuses_more_than_255_blocks():
    prf = Prf(PrfId.HMAC_SHA1)
    assert len(prf.plus(b"k", b"s", 255 * 20)) == 255 * 20
    with pytest.raises(ValueError):
        prf.plus(b"k", b"s", 255 * 20 + 1)


def test_unsupported_ids_raise():
    with pytest.raises(UnsupportedTransform):
        Prf(PrfId.AES128_XCBC)
    with pytest.raises(UnsupportedTransform):
        Integ(IntegId.HMAC_MD5_96)
    with pytest.raises(UnsupportedTransform):
        Prf(IntegId.HMAC_SHA2_256_128.value + 100)


def test_repr_has_no_key_material():
    assert repr(Prf(PrfId.HMAC_SHA2_256)) == "Prf(prfsha256)"
    assert repr(Integ(IntegId.HMAC_SHA1_96)) == "Integ(sha1)"
