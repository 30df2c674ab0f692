"""ML-KEM as an IKEv2 key exchange: Wycheproof known answers (key generation from the seed,
decapsulation incl. implicit rejection, the modulus check of encapsulation keys), the KEM roles
behind crypto.dh's interface, and what an installation without ML-KEM says.

Where `cryptography` has no ML-KEM (the oldest supported set, OpenWrt 24.10's 41.0.7) the
known-answer tests cannot run: there the unavailable-path tests below run instead.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from ikev2d.crypto import mlkem
from ikev2d.crypto.dh import ephemeral_key_exchange, respond_key_exchange
from ikev2d.crypto.errors import InvalidKeData, UnsupportedTransform
from ikev2d.crypto.transforms import by_keyword, lookup
from ikev2d.wire.enums import KeId, NotifyType, TransformType

VECTORS = json.loads((pathlib.Path(__file__).parent / "vectors" / "mlkem.json").read_text())
METHODS = {"ML-KEM-768": KeId.ML_KEM_768, "ML-KEM-1024": KeId.ML_KEM_1024}
HAVE_MLKEM = bool(mlkem.available_methods())
needs_mlkem = pytest.mark.skipif(
    not HAVE_MLKEM, reason="this cryptography has no ML-KEM (test_without_mlkem_* run instead)"
)


def _case_id(case: dict) -> str:
    return f"{case['method']}-{case['tcId']}-{case['comment'].replace(' ', '_')}"


@needs_mlkem
def test_offers_768_then_1024_and_never_512():
    assert mlkem.available_methods() == (KeId.ML_KEM_768, KeId.ML_KEM_1024)
    assert mlkem.unavailable_reason() == ""


@needs_mlkem
@pytest.mark.parametrize("case", VECTORS["decaps"], ids=_case_id)
def test_wycheproof_keygen_and_decapsulation(case):
    method = METHODS[case["method"]]
    ours = mlkem.MlKemInitiator(method, seed=bytes.fromhex(case["seed"]))
    assert ours.public_bytes().hex() == case["ek"]
    assert len(ours.public_bytes()) == lookup(TransformType.KE, method).public_len
    ciphertext = bytes.fromhex(case["c"])
    if case["result"] == "valid":
        # "Strcmp": a ciphertext equal to the re-encryption up to a zero byte must still be
        # rejected implicitly (its K is the rejection value, which is what the vector says)
        assert ours.shared_secret(ciphertext).hex() == case["K"]
    else:
        with pytest.raises(InvalidKeData) as e:
            ours.shared_secret(ciphertext)
        assert e.value.group == method and e.value.notify == NotifyType.INVALID_SYNTAX


@needs_mlkem
@pytest.mark.parametrize("case", VECTORS["bad_ek"], ids=_case_id)
def test_encapsulation_refuses_keys_with_unreduced_coefficients(case):
    method = METHODS[case["method"]]
    ek = bytes.fromhex(case["ek"])
    assert len(ek) == lookup(TransformType.KE, method).public_len  # only the content is bad
    with pytest.raises(InvalidKeData, match="not reduced"):
        mlkem.respond(method, ek)


@needs_mlkem
@pytest.mark.parametrize("method", [KeId.ML_KEM_768, KeId.ML_KEM_1024])
def test_responder_and_initiator_agree_through_the_dh_interface(method):
    initiator = ephemeral_key_exchange(method, os.urandom)  # what our own rekeys use
    ciphertext, responder_secret = respond_key_exchange(method, initiator.public_bytes(), None)
    info = lookup(TransformType.KE, method)
    assert len(ciphertext) == info.ciphertext_len and len(responder_secret) == 32
    assert initiator.shared_secret(ciphertext) == responder_secret
    other = ephemeral_key_exchange(method, os.urandom)
    assert other.public_bytes() != initiator.public_bytes()  # fresh keys every time


@needs_mlkem
def test_initiator_key_comes_from_the_injected_rng():
    seed = bytes(range(64))
    a = mlkem.MlKemInitiator(KeId.ML_KEM_768, rng=lambda n: seed[:n])
    b = mlkem.MlKemInitiator(KeId.ML_KEM_768, seed=seed)
    assert a.public_bytes() == b.public_bytes()
    with pytest.raises(ValueError, match="64 bytes"):
        mlkem.MlKemInitiator(KeId.ML_KEM_768, seed=bytes(32))


@needs_mlkem
@pytest.mark.parametrize("delta", [-1, 1, -1184])
def test_wrong_lengths_are_invalid_ke_data(delta):
    good = mlkem.MlKemInitiator(KeId.ML_KEM_768, rng=os.urandom).public_bytes()
    bad = (good + b"\0")[: len(good) + delta] if delta > 0 else good[:delta]
    with pytest.raises(InvalidKeData, match="length"):
        mlkem.respond(KeId.ML_KEM_768, bad)


@needs_mlkem
def test_mlkem512_is_refused_as_unsupported():
    with pytest.raises(UnsupportedTransform, match="35"):
        mlkem.MlKemInitiator(KeId.ML_KEM_512)
    with pytest.raises(UnsupportedTransform):
        mlkem.respond(KeId.ML_KEM_512, bytes(800))


def test_without_mlkem_nothing_is_offered_and_the_reason_names_cryptography(without_mlkem):
    assert mlkem.available_methods() == ()
    assert mlkem.unavailable_reason() == without_mlkem
    with pytest.raises(UnsupportedTransform, match="ML-KEM"):
        ephemeral_key_exchange(KeId.ML_KEM_768, os.urandom)
    with pytest.raises(UnsupportedTransform):
        respond_key_exchange(KeId.ML_KEM_768, bytes(1184), os.urandom)


def test_registry_knows_the_kem_sizes_and_keywords():
    for keyword, method, ek, ct in (
        ("mlkem512", KeId.ML_KEM_512, 800, 768),
        ("mlkem768", KeId.ML_KEM_768, 1184, 1088),
        ("mlkem1024", KeId.ML_KEM_1024, 1568, 1568),
    ):
        t = by_keyword(keyword)
        assert (t.type, t.id, t.public_len, t.ciphertext_len) == (TransformType.KE, method, ek, ct)
        assert t.is_kem and mlkem.is_mlkem(method)
    assert not by_keyword("curve25519").is_kem and not mlkem.is_mlkem(KeId.CURVE25519)
