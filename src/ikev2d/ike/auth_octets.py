"""What the AUTH payloads of an IKE SA sign or MAC (RFC 7296 §2.15), from the SA's state: the
IKE_SA_INIT message, the peer's nonce, our SK_p over the ID payload, and, after IKE_INTERMEDIATE
exchanges, IntAuth (RFC 9242 §3.3). One place for the PSK, certificate and EAP methods."""

from __future__ import annotations

from ikev2d.crypto.auth import initiator_signed_octets, responder_signed_octets

from .sa import IkeSa

__all__ = ["initiator_octets", "responder_octets"]


def initiator_octets(sa: IkeSa, id_i_body: bytes) -> bytes:
    """InitiatorSignedOctets: what the client's AUTH covers."""
    keys = sa.keys
    return initiator_signed_octets(
        sa.prf, sa.init_request, sa.nonce_r, keys.sk_pi, id_i_body, sa.int_auth
    )


def responder_octets(sa: IkeSa, id_r_body: bytes) -> bytes:
    """ResponderSignedOctets: what our AUTH covers."""
    keys = sa.keys
    return responder_signed_octets(
        sa.prf, sa.init_response, sa.nonce_i, keys.sk_pr, id_r_body, sa.int_auth
    )
