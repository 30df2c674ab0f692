"""SKEYSEED, IKE SA keys, IKE rekey and Child SA KEYMAT (RFC 7296 §2.13-2.18).

Expected values are computed here straight from the RFC's formulas with the hmac module.
"""

import hmac

import pytest

from ikev2d.crypto.keys import (
    derive_child_keys,
    derive_ike_keys,
    derive_rekeyed_ike_keys,
    rekey_skeyseed,
    skeyseed,
)
from ikev2d.crypto.prf import Prf
from ikev2d.crypto.transforms import by_keyword

NI, NR = bytes(range(32)), bytes(range(100, 132))
SPI_I, SPI_R = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
G_IR = bytes(range(256)) * 1


def _prf_plus(hash_name, key, seed, length):
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = hmac.new(key, t + seed + bytes([n]), hash_name).digest()
        out += t
        n += 1
    return out[:length]


def _split(stream, lengths):
    parts, pos = [], 0
    for n in lengths:
        parts.append(stream[pos : pos + n])
        pos += n
    assert pos == len(stream)
    return parts


SUITES = [
    ("prfsha256", "aes256", "sha256", "sha256", 32, 32, 32),
    ("prfsha1", "aes128", "sha1", "sha1", 20, 16, 20),
    ("prfsha384", "aes256gcm16", None, "sha384", 48, 36, 0),
    ("prfsha256", "chacha20poly1305", None, "sha256", 32, 36, 0),
    ("prfsha512", "3des", "sha512", "sha512", 64, 24, 64),
]


@pytest.mark.parametrize(("prf_kw", "encr_kw", "integ_kw", "h", "p", "e", "a"), SUITES)
def test_ike_keys_match_rfc_formula(prf_kw, encr_kw, integ_kw, h, p, e, a):
    prf, encr = Prf(by_keyword(prf_kw)), by_keyword(encr_kw)
    integ = by_keyword(integ_kw) if integ_kw else None
    keys = derive_ike_keys(prf, encr, integ, NI, NR, SPI_I, SPI_R, G_IR)

    seed = hmac.new(NI + NR, G_IR, h).digest()  # SKEYSEED = prf(Ni | Nr, g^ir)
    assert skeyseed(prf, NI, NR, G_IR) == seed
    lengths = [p, a, a, e, e, p, p]
    stream = _prf_plus(h, seed, NI + NR + SPI_I + SPI_R, sum(lengths))
    expected = _split(stream, lengths)
    got = [keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr]
    assert got == expected
    assert keys.i_to_r.encr_key == keys.sk_ei and keys.i_to_r.integ_key == keys.sk_ai
    assert keys.r_to_i.encr_key == keys.sk_er and keys.r_to_i.integ_key == keys.sk_ar


def test_key_repr_hides_secrets():
    keys = derive_ike_keys(
        Prf(by_keyword("prfsha256")), by_keyword("aes256"), by_keyword("sha256"),
        NI, NR, SPI_I, SPI_R, G_IR,
    )  # fmt: skip
    text = repr(keys) + repr(keys.i_to_r)
    for secret in (keys.sk_d, keys.sk_ei, keys.sk_ai, keys.sk_pr):
        assert secret.hex() not in text
        assert repr(secret) not in text


def test_different_inputs_give_different_keys():
    prf, encr, integ = Prf(by_keyword("prfsha256")), by_keyword("aes128"), by_keyword("sha256")
    base = derive_ike_keys(prf, encr, integ, NI, NR, SPI_I, SPI_R, G_IR)
    assert derive_ike_keys(prf, encr, integ, NR, NI, SPI_I, SPI_R, G_IR) != base
    assert derive_ike_keys(prf, encr, integ, NI, NR, SPI_R, SPI_I, G_IR) != base
    assert derive_ike_keys(prf, encr, integ, NI, NR, SPI_I, SPI_R, G_IR[::-1]) != base
    with pytest.raises(ValueError):
        derive_ike_keys(prf, encr, integ, NI, NR, SPI_I[:4], SPI_R, G_IR)


def test_fixed_key_prf_takes_half_of_each_nonce():
    # §2.14: a 16-byte fixed-key PRF gets Ni[:8] | Nr[:8]. (HMAC PRFs are not fixed-key; an
    # instance is switched to fixed-key mode to exercise the rule.)
    prf = Prf(by_keyword("prfsha256"))
    prf.fixed_key_len = 16
    assert skeyseed(prf, NI, NR, G_IR) == hmac.new(NI[:8] + NR[:8], G_IR, "sha256").digest()


def test_ike_rekey_uses_old_sk_d_and_old_prf():
    old_prf, new_prf = Prf(by_keyword("prfsha256")), Prf(by_keyword("prfsha384"))
    old_sk_d = b"\x5d" * 32
    new_ni, new_nr = b"\xa1" * 32, b"\xb2" * 32
    new_spi_i, new_spi_r = b"\x21" * 8, b"\x22" * 8
    seed = hmac.new(old_sk_d, G_IR + new_ni + new_nr, "sha256").digest()
    assert rekey_skeyseed(old_prf, old_sk_d, G_IR, new_ni, new_nr) == seed
    encr = by_keyword("aes256gcm16")
    keys = derive_rekeyed_ike_keys(
        old_prf, old_sk_d, new_prf, encr, None, new_ni, new_nr, new_spi_i, new_spi_r, G_IR
    )
    lengths = [48, 0, 0, 36, 36, 48, 48]
    stream = _prf_plus("sha384", seed, new_ni + new_nr + new_spi_i + new_spi_r, sum(lengths))
    assert [keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr] == (
        _split(stream, lengths)
    )


@pytest.mark.parametrize(
    ("encr_kw", "integ_kw", "e", "a"),
    [
        ("aes256", "sha256", 32, 32),
        ("aes128", "sha1", 16, 20),
        ("aes256gcm16", None, 36, 0),
        ("aes128gcm16", None, 20, 0),
        ("chacha20poly1305", None, 36, 0),
        ("3des", "sha1", 24, 20),
    ],
)
@pytest.mark.parametrize("with_pfs", [False, True])
def test_child_keymat_order(encr_kw, integ_kw, e, a, with_pfs):
    prf = Prf(by_keyword("prfsha256"))
    sk_d = b"\x0d" * 32
    g_ir = G_IR if with_pfs else None
    encr, integ = by_keyword(encr_kw), by_keyword(integ_kw) if integ_kw else None
    keys = derive_child_keys(prf, sk_d, encr, integ, NI, NR, g_ir)
    seed = (G_IR if with_pfs else b"") + NI + NR  # KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr)
    keymat = _prf_plus("sha256", sk_d, seed, 2 * (e + a))
    # §2.17: initiator->responder encryption, its integrity, then the responder->initiator pair
    assert [keys.encr_i, keys.integ_i, keys.encr_r, keys.integ_r] == _split(keymat, [e, a, e, a])
    assert keys.i_to_r.encr_key == keys.encr_i and keys.r_to_i.integ_key == keys.integ_r


# --- RFC 9370 additional key exchanges ---------------------------------------------------------
SK1, SK2 = b"\x91" * 32, b"\x92" * 32  # shared secrets of ML-KEM exchanges


def test_intermediate_key_update_is_a_rekey_of_the_sa_by_itself():
    """§2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr); the keys with IKE_SA_INIT's
    nonces and SPIs; twice for two additional exchanges."""
    from ikev2d.crypto.keys import derive_intermediate_ike_keys

    prf, encr, integ = Prf(by_keyword("prfsha256")), by_keyword("aes256"), by_keyword("sha256")
    keys0 = derive_ike_keys(prf, encr, integ, NI, NR, SPI_I, SPI_R, G_IR)
    keys1 = derive_intermediate_ike_keys(prf, keys0, encr, integ, NI, NR, SPI_I, SPI_R, SK1)
    keys2 = derive_intermediate_ike_keys(prf, keys1, encr, integ, NI, NR, SPI_I, SPI_R, SK2)
    lengths = [32, 32, 32, 32, 32, 32, 32]
    sk_d = keys0.sk_d
    for keys, secret in ((keys1, SK1), (keys2, SK2)):
        seed = hmac.new(sk_d, secret + NI + NR, "sha256").digest()
        expected = _split(_prf_plus("sha256", seed, NI + NR + SPI_I + SPI_R, 224), lengths)
        got = [keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr]
        assert got == expected
        sk_d = keys.sk_d


def test_ike_rekey_with_followup_key_exchanges_appends_their_secrets_after_the_nonces():
    """§2.2.4: SKEYSEED = prf(SK_d (old), SK(0) | Ni | Nr | SK(1) | ... | SK(n))."""
    prf = Prf(by_keyword("prfsha256"))
    old_sk_d, ni, nr = b"\x5d" * 32, b"\xa1" * 32, b"\xb2" * 32
    expected = hmac.new(old_sk_d, G_IR + ni + nr + SK1 + SK2, "sha256").digest()
    assert rekey_skeyseed(prf, old_sk_d, G_IR, ni, nr, SK1 + SK2) == expected
    encr, integ = by_keyword("aes256"), by_keyword("sha256")
    keys = derive_rekeyed_ike_keys(
        prf, old_sk_d, prf, encr, integ, ni, nr, SPI_I, SPI_R, G_IR, SK1 + SK2
    )
    stream = _prf_plus("sha256", expected, ni + nr + SPI_I + SPI_R, 224)
    assert keys.sk_d == stream[:32] and keys.sk_pr == stream[-32:]


def test_child_keymat_with_followup_key_exchanges():
    """§2.2.4: KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n))."""
    prf, sk_d = Prf(by_keyword("prfsha256")), b"\x0d" * 32
    encr, integ = by_keyword("aes256"), by_keyword("sha256")
    keys = derive_child_keys(prf, sk_d, encr, integ, NI, NR, G_IR, SK1)
    keymat = _prf_plus("sha256", sk_d, G_IR + NI + NR + SK1, 128)
    assert [keys.encr_i, keys.integ_i, keys.encr_r, keys.integ_r] == _split(keymat, [32] * 4)
