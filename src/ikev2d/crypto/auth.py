"""AUTH payload data for shared-key authentication (RFC 7296 §2.15).

AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets> ), where
InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload) and
ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload).
RestOfIDPayload is the ID payload body after its generic header (ID Type, 3 reserved octets,
identification data). The same computation with the EAP MSK as the shared secret serves EAP
(§2.16).
"""

from __future__ import annotations

from ikev2d.crypto.digests import constant_time_equal
from ikev2d.crypto.prf import Prf

__all__ = [
    "KEY_PAD",
    "initiator_signed_octets",
    "psk_auth",
    "responder_signed_octets",
    "signed_octets",
    "verify_psk_auth",
]

KEY_PAD = b"Key Pad for IKEv2"


def signed_octets(
    prf: Prf, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_body: bytes
) -> bytes:
    """RealMessage | Nonce of the peer | prf(SK_p, RestOfIDPayload)."""
    return b"".join((real_message, peer_nonce, prf.compute(sk_p, id_body)))


def initiator_signed_octets(
    prf: Prf, message1: bytes, nonce_r: bytes, sk_pi: bytes, id_i_body: bytes
) -> bytes:
    """What the initiator's AUTH covers: its IKE_SA_INIT request, Nr and its IDi."""
    return signed_octets(prf, message1, nonce_r, sk_pi, id_i_body)


def responder_signed_octets(
    prf: Prf, message2: bytes, nonce_i: bytes, sk_pr: bytes, id_r_body: bytes
) -> bytes:
    """What the responder's AUTH covers: its IKE_SA_INIT response, Ni and its IDr."""
    return signed_octets(prf, message2, nonce_i, sk_pr, id_r_body)


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """AUTH data for a pre-shared key (or an EAP MSK)."""
    return prf.compute(prf.compute(psk, KEY_PAD), octets)


def verify_psk_auth(prf: Prf, psk: bytes, octets: bytes, received: bytes) -> bool:
    """Constant-time comparison of received AUTH data with the expected value."""
    return constant_time_equal(psk_auth(prf, psk, octets), received)
