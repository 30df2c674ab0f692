"""AUTH payload data for shared-key authentication (RFC 7296 §2.15).

AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets> ), where
InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload) and
ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload).
RestOfIDPayload is the ID payload body after its generic header (ID Type, 3 reserved octets,
identification data). The same computation with the EAP MSK as the shared secret serves EAP
(§2.16).

After IKE_INTERMEDIATE exchanges (RFC 9242 §3.3) both SignedOctets end with
IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID, where each side's IntAuth chains over its
IKE_INTERMEDIATE messages: IntAuth_in = prf(SK_pi(n), IntAuth_i(n-1) | IntAuth_inA | IntAuth_inP)
(likewise _r with SK_pr), with the SK_p keys that protected exchange n, the "A" part the message
up to the Encrypted payload's header and the "P" part its inner payloads in plaintext, both
measured as if the message had never been encrypted or fragmented.
"""

from __future__ import annotations

from ikev2d.crypto.digests import constant_time_equal
from ikev2d.crypto.prf import Prf

__all__ = [
    "KEY_PAD",
    "initiator_signed_octets",
    "intermediate_auth",
    "psk_auth",
    "responder_signed_octets",
    "signed_octets",
    "unprotected_octets",
    "verify_psk_auth",
]

KEY_PAD = b"Key Pad for IKEv2"
_SK = 46  # the Encrypted payload type
_IKE_HEADER = 28


def signed_octets(
    prf: Prf,
    real_message: bytes,
    peer_nonce: bytes,
    sk_p: bytes,
    id_body: bytes,
    int_auth: bytes = b"",
) -> bytes:
    """RealMessage | Nonce of the peer | prf(SK_p, RestOfIDPayload) [| IntAuth]."""
    return b"".join((real_message, peer_nonce, prf.compute(sk_p, id_body), int_auth))


def initiator_signed_octets(
    prf: Prf,
    message1: bytes,
    nonce_r: bytes,
    sk_pi: bytes,
    id_i_body: bytes,
    int_auth: bytes = b"",
) -> bytes:
    """What the initiator's AUTH covers: its IKE_SA_INIT request, Nr and its IDi."""
    return signed_octets(prf, message1, nonce_r, sk_pi, id_i_body, int_auth)


def responder_signed_octets(
    prf: Prf,
    message2: bytes,
    nonce_i: bytes,
    sk_pr: bytes,
    id_r_body: bytes,
    int_auth: bytes = b"",
) -> bytes:
    """What the responder's AUTH covers: its IKE_SA_INIT response, Ni and its IDr."""
    return signed_octets(prf, message2, nonce_i, sk_pr, id_r_body, int_auth)


def unprotected_octets(header28: bytes, first_inner_type: int, plaintext: bytes) -> bytes:
    """An IKE_INTERMEDIATE message as RFC 9242 §3.3.2 authenticates it: IntAuth_*A | IntAuth_*P.

    The IKE header (Next Payload SK, Length adjusted to this result), the Encrypted payload's
    generic header (Next Payload the first inner payload, Payload Length adjusted to 4 + the
    plaintext) and the inner payloads: no IV, padding or ICV, and never the SKF form.
    """
    if len(header28) != _IKE_HEADER:
        raise ValueError("IKE header must be 28 bytes")
    total = _IKE_HEADER + 4 + len(plaintext)
    header = b"".join((header28[:16], bytes((_SK,)), header28[17:24], total.to_bytes(4, "big")))
    sk = bytes((first_inner_type, 0)) + (4 + len(plaintext)).to_bytes(2, "big")
    return b"".join((header, sk, plaintext))


def intermediate_auth(prf: Prf, sk_p: bytes, previous: bytes, message: bytes) -> bytes:
    """IntAuth_[i/r]n = prf(SK_p, IntAuth_[i/r](n-1) | message) (RFC 9242 §3.3.1; `previous`
    is empty for the first exchange, `message` from unprotected_octets)."""
    return prf.compute(sk_p, previous + message)


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """AUTH data for a pre-shared key (or an EAP MSK)."""
    return prf.compute(prf.compute(psk, KEY_PAD), octets)


def verify_psk_auth(prf: Prf, psk: bytes, octets: bytes, received: bytes) -> bool:
    """Constant-time comparison of received AUTH data with the expected value."""
    return constant_time_equal(psk_auth(prf, psk, octets), received)
