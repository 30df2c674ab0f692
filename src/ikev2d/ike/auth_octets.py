"""What the AUTH payloads of an IKE SA sign or MAC (RFC 7296 §2.15), from the SA's state: the
IKE_SA_INIT message, the peer's nonce, our SK_p over the ID payload, and, after IKE_INTERMEDIATE
exchanges, IntAuth (RFC 9242 §3.3). One place for the PSK, certificate and EAP methods."""

from __future__ import annotations

from ikev2d.crypto.auth import initiator_signed_octets, responder_signed_octets

from .sa import IkeSa

__all__ = ["initiator_octets", "responder_octets"]


def initiator_octets(sa: IkeSa, id_i_body: bytes) -> bytes:
    """InitiatorSignedOctets: what the client's AUTH covers."""
    hs = sa.half_open
    return initiator_signed_octets(
        sa.prf, hs.init_request, hs.nonce_r, sa.keys.sk_pi, id_i_body, hs.int_auth
    )


def responder_octets(sa: IkeSa, id_r_body: bytes) -> bytes:
    """ResponderSignedOctets: what our AUTH covers."""
    hs = sa.half_open
    return responder_signed_octets(
        sa.prf, hs.init_response, hs.nonce_i, sa.keys.sk_pr, id_r_body, hs.int_auth
    )
