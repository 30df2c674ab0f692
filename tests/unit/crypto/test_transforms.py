"""The transform registry: keywords, wire ids and the sizes the kernel and SK code rely on."""

import pytest

from ikev2d.crypto import transforms as tr
from ikev2d.wire.enums import DhId, EncrId, EsnId, IntegId, PrfId, TransformType


@pytest.mark.parametrize(
    ("keyword", "ttype", "tid", "bits", "xfrm", "key_len", "icv"),
    [
        ("aes128", TransformType.ENCR, EncrId.AES_CBC, 128, "cbc(aes)", 16, 0),
        ("aes192", TransformType.ENCR, EncrId.AES_CBC, 192, "cbc(aes)", 24, 0),
        ("aes256", TransformType.ENCR, EncrId.AES_CBC, 256, "cbc(aes)", 32, 0),
        ("aes128gcm16", TransformType.ENCR, EncrId.AES_GCM_16, 128, "rfc4106(gcm(aes))", 20, 16),
        ("aes256gcm16", TransformType.ENCR, EncrId.AES_GCM_16, 256, "rfc4106(gcm(aes))", 36, 16),
        (
            "chacha20poly1305",
            TransformType.ENCR,
            EncrId.CHACHA20_POLY1305,
            None,
            "rfc7539esp(chacha20,poly1305)",
            36,
            16,
        ),
        ("3des", TransformType.ENCR, EncrId.TRIPLE_DES, None, "cbc(des3_ede)", 24, 0),
        ("sha1", TransformType.INTEG, IntegId.HMAC_SHA1_96, None, "hmac(sha1)", 20, 12),
        ("sha256", TransformType.INTEG, IntegId.HMAC_SHA2_256_128, None, "hmac(sha256)", 32, 16),
        ("sha384", TransformType.INTEG, IntegId.HMAC_SHA2_384_192, None, "hmac(sha384)", 48, 24),
        ("sha512", TransformType.INTEG, IntegId.HMAC_SHA2_512_256, None, "hmac(sha512)", 64, 32),
        ("prfsha1", TransformType.PRF, PrfId.HMAC_SHA1, None, None, 20, 0),
        ("prfsha256", TransformType.PRF, PrfId.HMAC_SHA2_256, None, None, 32, 0),
        ("prfsha384", TransformType.PRF, PrfId.HMAC_SHA2_384, None, None, 48, 0),
        ("prfsha512", TransformType.PRF, PrfId.HMAC_SHA2_512, None, None, 64, 0),
    ],
)
def test_keyword_facts(keyword, ttype, tid, bits, xfrm, key_len, icv):
    t = tr.by_keyword(keyword)
    assert (t.type, t.id, t.key_bits) == (ttype, tid, bits)
    assert t.xfrm_name == xfrm
    assert t.key_len == key_len
    assert t.icv_len == icv
    assert tr.lookup(ttype, tid, bits) is t


def test_xfrm_bits_for_kernel():
    gcm = tr.by_keyword("aes256gcm16")
    assert (gcm.xfrm_key_bits, gcm.icv_bits, gcm.salt_len, gcm.iv_len) == (288, 128, 4, 8)
    assert gcm.is_aead
    cc = tr.by_keyword("chacha20poly1305")
    assert (cc.xfrm_key_bits, cc.icv_bits, cc.is_aead) == (288, 128, True)
    sha1 = tr.by_keyword("sha1")
    assert (sha1.xfrm_key_bits, sha1.icv_bits) == (160, 96)
    assert (tr.by_keyword("sha384").icv_bits, tr.by_keyword("sha512").icv_bits) == (192, 256)
    cbc = tr.by_keyword("aes256")
    assert (cbc.is_aead, cbc.iv_len, cbc.block_size) == (False, 16, 16)
    des = tr.by_keyword("3des")
    assert (des.iv_len, des.block_size, des.legacy) == (8, 8, True)


@pytest.mark.parametrize(
    ("keyword", "group", "public_len", "legacy"),
    [
        ("modp1024", DhId.MODP1024, 128, True),
        ("modp1536", DhId.MODP1536, 192, False),
        ("modp2048", DhId.MODP2048, 256, False),
        ("modp3072", DhId.MODP3072, 384, False),
        ("modp4096", DhId.MODP4096, 512, False),
        ("ecp256", DhId.ECP256, 64, False),
        ("ecp384", DhId.ECP384, 96, False),
        ("ecp521", DhId.ECP521, 132, False),
        ("curve25519", DhId.CURVE25519, 32, False),
        ("x25519", DhId.CURVE25519, 32, False),
    ],
)
def test_ke_keywords(keyword, group, public_len, legacy):
    t = tr.by_keyword(keyword)
    assert (t.type, t.id, t.public_len, t.legacy) == (TransformType.KE, group, public_len, legacy)
    assert tr.lookup(TransformType.KE, group) is t


def test_esn_keywords():
    assert tr.by_keyword("esn").id == EsnId.ESN
    assert tr.by_keyword("noesn").id == EsnId.NO_ESN
    assert tr.by_keyword("esn").type == TransformType.ESN


def test_only_weak_transforms_are_legacy():
    legacy = {t.keyword for t in tr.ALL_TRANSFORMS if t.legacy}
    assert legacy == {"3des", "modp1024"}


def test_bare_hash_in_ike_proposal_means_integ_and_prf():
    integ, prf = tr.ike_transforms_for_keyword("sha384")
    assert (integ.type, integ.id) == (TransformType.INTEG, IntegId.HMAC_SHA2_384_192)
    assert (prf.type, prf.id) == (TransformType.PRF, PrfId.HMAC_SHA2_384)
    assert tr.ike_transforms_for_keyword("prfsha256") == (tr.by_keyword("prfsha256"),)
    assert tr.ike_transforms_for_keyword("aes256") == (tr.by_keyword("aes256"),)
    assert tr.integ_for_prf(prf) is integ


def test_keyword_is_case_insensitive_and_unknown_raises():
    assert tr.by_keyword("AES256GCM16") is tr.by_keyword("aes256gcm16")
    with pytest.raises(tr.UnknownTransform):
        tr.by_keyword("aes512")
    with pytest.raises(LookupError):
        tr.by_keyword("md5")


def test_lookup_requires_exact_key_length_attribute():
    with pytest.raises(tr.UnknownTransform):
        tr.lookup(TransformType.ENCR, EncrId.AES_CBC)  # AES needs its Key Length attribute
    with pytest.raises(tr.UnknownTransform):
        tr.lookup(TransformType.ENCR, EncrId.AES_CBC, 64)
    with pytest.raises(tr.UnknownTransform):
        tr.lookup(TransformType.ENCR, EncrId.TRIPLE_DES, 192)  # fixed-key: no attribute
    with pytest.raises(tr.UnknownTransform):
        tr.lookup(TransformType.ENCR, EncrId.AES_GCM_16, 192)  # not offered
    with pytest.raises(tr.UnknownTransform):
        tr.lookup(TransformType.KE, DhId.MODP768)


def test_registry_entries_are_unique_and_frozen():
    keys = [t.registry_key for t in tr.ALL_TRANSFORMS]
    assert len(keys) == len(set(keys))
    t = tr.by_keyword("aes256")
    with pytest.raises(AttributeError):
        t.key_len = 1  # type: ignore[misc]
