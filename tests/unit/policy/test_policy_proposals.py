"""Proposal strings -> Proposal objects built from the crypto registry."""

import pytest

from ikev2d.crypto.transforms import by_keyword
from ikev2d.policy.proposals import ProposalError, parse_proposal
from ikev2d.wire.enums import DhId, EncrId, EsnId, IntegId, PrfId


def ids(p):
    return [(int(t.type), int(t.id), t.key_bits) for t in p.transforms]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "aes256-sha256-modp2048",
            [(1, EncrId.AES_CBC, 256), (2, PrfId.HMAC_SHA2_256, None),
             (3, IntegId.HMAC_SHA2_256_128, None), (4, DhId.MODP2048, None)],
        ),
        (
            "aes256gcm16-prfsha384-curve25519",
            [(1, EncrId.AES_GCM_16, 256), (2, PrfId.HMAC_SHA2_384, None),
             (4, DhId.CURVE25519, None)],
        ),
        (
            "chacha20poly1305-prfsha256-curve25519",
            [(1, EncrId.CHACHA20_POLY1305, None), (2, PrfId.HMAC_SHA2_256, None),
             (4, DhId.CURVE25519, None)],
        ),
        (
            "aes128-sha256-modp3072",
            [(1, EncrId.AES_CBC, 128), (2, PrfId.HMAC_SHA2_256, None),
             (3, IntegId.HMAC_SHA2_256_128, None), (4, DhId.MODP3072, None)],
        ),
        (
            "aes256-sha256-prfsha384-ecp256",  # explicit PRF wins over the bare hash's
            [(1, EncrId.AES_CBC, 256), (2, PrfId.HMAC_SHA2_384, None),
             (3, IntegId.HMAC_SHA2_256_128, None), (4, DhId.ECP256, None)],
        ),
        (
            "AES256-SHA256-MODP2048",
            [(1, EncrId.AES_CBC, 256), (2, PrfId.HMAC_SHA2_256, None),
             (3, IntegId.HMAC_SHA2_256_128, None), (4, DhId.MODP2048, None)],
        ),
    ],
)  # fmt: skip
def test_ike_proposals(text, expected):
    p = parse_proposal(text, "ike")
    assert ids(p) == expected
    assert p.protocol == "ike" and p.text == text.lower() and str(p) == text.lower()
    assert not p.legacy
    assert repr(p) == f"Proposal('ike', {text.lower()!r})"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aes256-sha256", [(1, EncrId.AES_CBC, 256), (3, IntegId.HMAC_SHA2_256_128, None),
                           (5, EsnId.NO_ESN, None)]),
        ("aes256gcm16", [(1, EncrId.AES_GCM_16, 256), (5, EsnId.NO_ESN, None)]),
        ("chacha20poly1305", [(1, EncrId.CHACHA20_POLY1305, None), (5, EsnId.NO_ESN, None)]),
        ("aes256gcm16-esn", [(1, EncrId.AES_GCM_16, 256), (5, EsnId.ESN, None)]),
        ("aes128-sha256-noesn", [(1, EncrId.AES_CBC, 128), (3, IntegId.HMAC_SHA2_256_128, None),
                                 (5, EsnId.NO_ESN, None)]),
        ("aes256-sha256-modp2048", [(1, EncrId.AES_CBC, 256),
                                    (3, IntegId.HMAC_SHA2_256_128, None),
                                    (4, DhId.MODP2048, None), (5, EsnId.NO_ESN, None)]),
    ],
)  # fmt: skip
def test_esp_proposals(text, expected):
    p = parse_proposal(text, "esp")
    assert ids(p) == expected
    assert p.prf is None


@pytest.mark.parametrize(
    ("text", "protocol", "reason"),
    [
        ("", "ike", "is empty"),
        ("aes256--modp2048", "ike", "empty part"),
        ("aes256-sha256-modp9999", "ike", "unknown algorithm 'modp9999'"),
        ("sha256-modp2048", "ike", "no encryption algorithm"),
        ("aes256-modp2048", "ike", "needs an integrity algorithm with aes256"),
        ("aes256-prfsha256-modp2048", "ike", "needs an integrity algorithm"),
        ("aes256gcm16-sha256-modp2048", "ike", "AEAD aes256gcm16 with integrity sha256; use "
                                               "prfsha256"),
        ("aes256gcm16-curve25519", "ike", "needs a PRF"),
        ("aes256-sha256", "ike", "needs one key exchange group"),
        ("aes256-sha256-modp2048-ecp256", "ike", "more than one key exchange group"),
        ("aes256-aes128-sha256-modp2048", "ike", "more than one ENCR"),
        ("aes256-sha256-sha384-modp2048", "ike", "more than one INTEG"),
        ("aes256-sha256-modp2048-esn", "ike", "only ESP proposals take"),
        ("aes256gcm16-sha256", "esp", "AEAD aes256gcm16 with integrity sha256"),
        ("aes256", "esp", "needs an integrity algorithm"),
        ("aes256-prfsha256", "esp", "ESP does not use"),
        ("aes256-sha256-esn-noesn", "esp", "more than one ESN"),
        ("aes256-sha256-mlkem768", "ike", "mlkem768, which the server runs only as an "
                                          "additional key exchange"),
        ("aes256gcm16-mlkem1024", "esp", "set post_quantum instead"),
    ],
)  # fmt: skip
def test_bad_proposals(text, protocol, reason):
    with pytest.raises(ProposalError, match=reason.replace("(", r"\(")):
        parse_proposal(text, protocol)


@pytest.mark.parametrize(
    ("text", "protocol"),
    [("3des-sha1-modp1024", "ike"), ("aes256-sha256-modp1024", "ike"), ("aes256-sha1", "esp"),
     ("aes128-sha256-prfsha1-modp2048", "ike"), ("3des-sha256", "esp")],
)  # fmt: skip
def test_legacy_flag(text, protocol):
    assert parse_proposal(text, protocol).legacy


def test_transforms_are_the_registry_objects():
    p = parse_proposal("aes256-sha256-modp2048", "ike")
    assert p.encr is by_keyword("aes256") and p.ke is by_keyword("modp2048")


def test_bad_protocol():
    with pytest.raises(ValueError, match="protocol"):
        parse_proposal("aes256-sha256", "ah")
