"""Key exchange: RFC 3526 groups, RFC 5903 ECP vectors, RFC 7748 X25519 vectors, validation."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ikev2d.crypto.dh import _ECP, new_key_exchange, supported_groups
from ikev2d.crypto.errors import InvalidKeData, UnsupportedTransform
from ikev2d.crypto.modp_groups import MODP_GENERATOR, MODP_PRIMES
from ikev2d.crypto.transforms import lookup
from ikev2d.wire.enums import DhId, NotifyType, TransformType


def _pi_fixed(bits):
    """floor(pi * 2**bits), Machin's formula in integer arithmetic (independent of the code)."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x):
        total = term = one // x
        n, sign = 1, -1
        while term:
            term //= x * x
            total += sign * (term // (2 * n + 1))
            sign, n = -sign, n + 1
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> guard


# RFC 2409 §6.2 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)
MODP_FORMULA = {
    DhId.MODP1024: (1024, 129093),
    DhId.MODP1536: (1536, 741804),
    DhId.MODP2048: (2048, 124476),
    DhId.MODP3072: (3072, 1690314),
    DhId.MODP4096: (4096, 240904),
}


@pytest.mark.parametrize("group", list(MODP_FORMULA))
def test_modp_primes_match_rfc_formula(group):
    n, k = MODP_FORMULA[group]
    expected = 2**n - 2 ** (n - 64) - 1 + 2**64 * (_pi_fixed(n - 130) + k)
    p = MODP_PRIMES[group]
    assert p == expected
    assert p.bit_length() == n
    # Fermat checks that p and (p-1)/2 are (probable) primes: a safe prime.
    assert pow(3, p - 1, p) == 1
    q = (p - 1) // 2
    assert pow(3, q - 1, q) == 1
    assert MODP_GENERATOR == 2


def test_modp2048_prime_published_prefix_and_suffix():
    # RFC 3526 §3 hex starts FFFFFFFF FFFFFFFF C90FDAA2 2168C234 and ends 15728E5A 8AACAA68
    # FFFFFFFF FFFFFFFF.
    h = format(MODP_PRIMES[DhId.MODP2048], "X")
    assert h.startswith("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1")
    assert h.endswith("15728E5A8AACAA68FFFFFFFFFFFFFFFF")


# RFC 5903 §8: i, g^i = (gix, giy), r, g^r = (grx, gry), g^ir x-coordinate.
RFC5903 = {
    DhId.ECP256: dict(
        i="c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
        gix="dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180",
        giy="5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
        r="c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
        grx="d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63",
        gry="56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
        girx="d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
    ),
    DhId.ECP384: dict(
        i="099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655"
        "e35b538041e649ee3faef896783ab194",
        gix="667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6"
        "de3ac808acb4bdb4c88732aee95f41aa",
        giy="9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38e"
        "eb9fcff3c2c947dae69b4c634573a81c",
        r="41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942"
        "e0308312916b8ed2960e4bd55a7448fc",
        grx="e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d"
        "0d1ac43a0336def96fda41d0774a3571",
        gry="dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1ff"
        "f83fa40142209dff5eaad96db9e6386c",
        girx="11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4"
        "d603135569b9e9d09cf5d4a270f59746",
    ),
    DhId.ECP521: dict(
        i="0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a0"
        "95aa85a30fe1c2952c6771d937ba9777f5957b2639bab072462f68c27a57382d4a52",
        gix="0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbe"
        "e1e3bf42e00b8e380aeae57c2d107564941885942af5a7f4601723c4195d176ced3e",
        giy="017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10a"
        "d8a788015ac405d7799dc75e7b7d5b6cf2261a6a7f1507438bf01beb6ca3926f9582",
        r="0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e"
        "9c677d600b343757a3bdbf2a3163e4c2f869cca7458aa4a4effc311f5cb151685eb9",
        grx="00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a21"
        "9b97c356436adc6e95bb0352f6be64a6c2912d4ef2d0433ced2b6171640012d9460f",
        gry="015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87"
        "220b6536c5c408a1d2aebb8e86d678ae49cb57091f4732296579ab44fcd17f0fc56a",
        girx="01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04"
        "d1427e73ca4baa240a34786859810c06b3c715a3a8cc3151f2bee417996d19f3ddea",
    ),
}


@pytest.mark.parametrize("group", list(RFC5903))
def test_ecp_rfc5903_vectors(group):
    v = RFC5903[group]
    ke_i = new_key_exchange(group, private=int(v["i"], 16))
    ke_r = new_key_exchange(group, private=bytes.fromhex(v["r"]))
    gi = bytes.fromhex(v["gix"] + v["giy"])
    gr = bytes.fromhex(v["grx"] + v["gry"])
    # KE payload data is x | y, no 0x04 prefix (RFC 5903 §7).
    assert ke_i.public_bytes() == gi
    assert ke_r.public_bytes() == gr
    assert len(gi) == lookup(TransformType.KE, group).public_len
    # The shared secret is the x coordinate only.
    assert ke_i.shared_secret(gr).hex() == v["girx"]
    assert ke_r.shared_secret(gi).hex() == v["girx"]


# RFC 7748 §5.2 (scalar, u, output) and §6.1 (Alice/Bob).
X25519_52 = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
]
ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUB = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUB = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


@pytest.mark.parametrize(("scalar", "u", "out"), X25519_52)
def test_x25519_rfc7748_section_5_2(scalar, u, out):
    ke = new_key_exchange(DhId.CURVE25519, private=bytes.fromhex(scalar))
    assert ke.shared_secret(bytes.fromhex(u)).hex() == out


def test_x25519_rfc7748_section_6_1():
    alice = new_key_exchange(DhId.CURVE25519, private=bytes.fromhex(ALICE_PRIV))
    bob = new_key_exchange(DhId.CURVE25519, private=bytes.fromhex(BOB_PRIV))
    assert alice.public_bytes().hex() == ALICE_PUB
    assert bob.public_bytes().hex() == BOB_PUB
    assert alice.shared_secret(bob.public_bytes()).hex() == SHARED
    assert bob.shared_secret(alice.public_bytes()).hex() == SHARED


@pytest.mark.parametrize("group", list(supported_groups()))
def test_generated_pairs_agree(group):
    a, b = new_key_exchange(group), new_key_exchange(group)
    pub_len = lookup(TransformType.KE, group).public_len
    assert len(a.public_bytes()) == pub_len
    assert a.public_bytes() != b.public_bytes()
    secret = a.shared_secret(b.public_bytes())
    assert secret == b.shared_secret(a.public_bytes())
    expected_len = pub_len // 2 if group in _ECP else pub_len
    assert len(secret) == expected_len


class CountingRng:
    def __init__(self, seed: int):
        self.seed = seed
        self.calls = []

    def __call__(self, n):
        self.calls.append(n)
        return bytes((self.seed + i) % 256 for i in range(n))


@pytest.mark.parametrize("group", list(supported_groups()))
def test_injected_rng_makes_keys_deterministic(group):
    a1 = new_key_exchange(group, rng=CountingRng(7))
    a2 = new_key_exchange(group, rng=CountingRng(7))
    b = new_key_exchange(group, rng=CountingRng(99))
    assert a1.public_bytes() == a2.public_bytes() != b.public_bytes()
    assert a1.shared_secret(b.public_bytes()) == b.shared_secret(a1.public_bytes())


@pytest.mark.parametrize("group", list(MODP_PRIMES))
def test_modp_injected_private_matches_modexp(group):
    p = MODP_PRIMES[group]
    x, y = 0x1234567 << 200, 0x7654321 << 190
    a = new_key_exchange(group, private=x)
    b = new_key_exchange(group, private=y)
    assert int.from_bytes(a.public_bytes(), "big") == pow(2, x, p)
    shared = a.shared_secret(b.public_bytes())
    assert shared == pow(2, x * y, p).to_bytes(len(shared), "big")
    assert shared == b.shared_secret(a.public_bytes())


def test_modp_rng_exponent_is_short():
    rng = CountingRng(1)
    new_key_exchange(DhId.MODP2048, rng=rng)
    assert rng.calls == [32]  # 256-bit exponent, not 2048
    rng = CountingRng(1)
    new_key_exchange(DhId.MODP4096, rng=rng)
    assert rng.calls == [40]


def test_modp_shared_secret_keeps_leading_zeros():
    # g^ir is padded to the prime's length (RFC 7296 §2.14): pick a peer whose result is small.
    p = MODP_PRIMES[DhId.MODP1024]
    ke = new_key_exchange(DhId.MODP1024, private=2**255 + 1)
    peer = 2  # 2^(2^255+1) mod p: compare with Python's arithmetic, padded
    out = ke.shared_secret(peer.to_bytes(128, "big"))
    assert out == pow(2, 2**255 + 1, p).to_bytes(128, "big")
    assert len(out) == 128


@pytest.mark.parametrize("group", list(MODP_PRIMES))
def test_modp_rejects_bad_public_values(group):
    p = MODP_PRIMES[group]
    size = (p.bit_length() + 7) // 8
    ke = new_key_exchange(group, private=3 << 100)
    for bad in (0, 1, p - 1, p, p + 1, 2 ** (8 * size) - 1):
        with pytest.raises(InvalidKeData) as exc:
            ke.shared_secret(bad.to_bytes(size, "big"))
        assert exc.value.group == group
    good = (2).to_bytes(size, "big")
    ke.shared_secret(good)
    with pytest.raises(InvalidKeData):
        ke.shared_secret(good[1:])  # one byte short
    with pytest.raises(InvalidKeData):
        ke.shared_secret(b"\0" + good)  # one byte long
    with pytest.raises(InvalidKeData):
        ke.shared_secret(b"")


@pytest.mark.parametrize("group", list(RFC5903))
def test_ecp_rejects_off_curve_and_bad_lengths(group):
    v = RFC5903[group]
    ke = new_key_exchange(group, private=int(v["i"], 16))
    gr = bytearray.fromhex(v["grx"] + v["gry"])
    off = bytearray(gr)
    off[-1] ^= 1  # y changed: off the curve
    for bad in (bytes(off), bytes(len(gr)), bytes(gr[:-1]), bytes(gr) + b"\0", b"\x04" + gr):
        with pytest.raises(InvalidKeData):
            ke.shared_secret(bad)
    # An x coordinate >= p cannot encode a point either.
    coord = len(gr) // 2
    with pytest.raises(InvalidKeData):
        ke.shared_secret(b"\xff" * coord + bytes(gr[coord:]))


@pytest.mark.parametrize("group", list(_ECP))
def test_ecp_group_order_constant(group):
    # (n-1)G = -G: same x as G, different y; this fails if n is not the curve order.
    curve_name, coord, n = _ECP[group]
    g = new_key_exchange(group, private=1).public_bytes()
    minus_g = new_key_exchange(group, private=n - 1).public_bytes()
    assert g[:coord] == minus_g[:coord] and g[coord:] != minus_g[coord:]
    with pytest.raises(ValueError):
        new_key_exchange(group, private=n)
    with pytest.raises(ValueError):
        new_key_exchange(group, private=0)
    assert isinstance(getattr(ec, curve_name)(), ec.EllipticCurve)


# Low-order points on Curve25519 (RFC 7748 §6.1 "all-zero value" check).
LOW_ORDER_U = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("peer", LOW_ORDER_U)
def test_x25519_rejects_all_zero_result(peer):
    ke = new_key_exchange(DhId.CURVE25519, private=bytes.fromhex(ALICE_PRIV))
    with pytest.raises(InvalidKeData):
        ke.shared_secret(peer)


def test_x25519_rejects_bad_lengths():
    ke = new_key_exchange(DhId.CURVE25519)
    for bad in (b"", bytes.fromhex(BOB_PUB)[:-1], bytes.fromhex(BOB_PUB) + b"\0"):
        with pytest.raises(InvalidKeData):
            ke.shared_secret(bad)


def test_invalid_ke_error_carries_notify_and_no_secret():
    ke = new_key_exchange(DhId.MODP2048, private=5 << 200)
    with pytest.raises(InvalidKeData) as exc:
        ke.shared_secret(bytes(256))
    assert exc.value.notify == NotifyType.INVALID_SYNTAX
    assert "14" in str(exc.value)
    assert repr(ke) == "ModpKeyExchange(MODP2048)"


def test_unsupported_group():
    with pytest.raises(UnsupportedTransform):
        new_key_exchange(DhId.MODP768)
    with pytest.raises(UnsupportedTransform):
        new_key_exchange(DhId.CURVE448)


def test_bad_private_values():
    with pytest.raises(ValueError):
        new_key_exchange(DhId.MODP2048, private=1)
    with pytest.raises(ValueError):
        new_key_exchange(DhId.CURVE25519, private=bytes(31))
    with pytest.raises(TypeError):
        new_key_exchange(DhId.CURVE25519, private=5)


def test_modp_without_openssl_ffdh_falls_back_to_pow(monkeypatch):
    # cryptography has deprecated FFDH; the module must keep working if it disappears.
    from ikev2d.crypto import dh

    monkeypatch.setattr(dh, "_ffdh_module", lambda: None)
    p = MODP_PRIMES[DhId.MODP1536]
    a = new_key_exchange(DhId.MODP1536, private=0xABCDEF << 180)
    b = new_key_exchange(DhId.MODP1536, rng=CountingRng(3))
    assert int.from_bytes(a.public_bytes(), "big") == pow(2, 0xABCDEF << 180, p)
    assert a.shared_secret(b.public_bytes()) == b.shared_secret(a.public_bytes())
    with pytest.raises(InvalidKeData):
        a.shared_secret((p - 1).to_bytes(192, "big"))
    with pytest.raises(ValueError):
        new_key_exchange(DhId.MODP1536)  # no OpenSSL key generation and no rng


@pytest.mark.parametrize("group", [DhId.CURVE25519, DhId.ECP256, DhId.ECP384])
def test_ephemeral_ec_keys_come_from_the_given_rng(group):
    """EC handshakes draw their private value from the daemon's rng (no OpenSSL RNG call):
    the same rng bytes give the same public value."""
    from ikev2d.crypto.dh import ephemeral_key_exchange

    seed = bytes(range(80))
    a = ephemeral_key_exchange(group, lambda n: seed[:n])
    b = ephemeral_key_exchange(group, lambda n: seed[:n])
    assert a.public_bytes() == b.public_bytes()
    assert a.shared_secret(b.public_bytes()) == b.shared_secret(a.public_bytes())


def test_ephemeral_modp_keys_come_from_openssl():
    from ikev2d.crypto.dh import ephemeral_key_exchange

    def no_rng(n):
        raise AssertionError("MODP exponents come from OpenSSL's key generation")

    a = ephemeral_key_exchange(DhId.MODP2048, no_rng)
    b = ephemeral_key_exchange(DhId.MODP2048, no_rng)
    assert a.public_bytes() != b.public_bytes()
    assert a.shared_secret(b.public_bytes()) == b.shared_secret(a.public_bytes())
