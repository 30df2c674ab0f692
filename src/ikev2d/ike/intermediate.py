"""IKE_INTERMEDIATE (RFC 9242) carrying the additional key exchanges of RFC 9370, between
IKE_SA_INIT and IKE_AUTH:

   HDR, SK { KEi(n) } -->                       one exchange per negotiated ADDKE, in order
                         <-- HDR, SK { KEr(n) }

Exchange n is protected with the keys in force before it; once answered, both messages join the
IntAuth chains (with those same SK_pi/SK_pr) and the IKE SA takes the keys of
SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), which protect the next exchange. IKE_AUTH may
only start when every negotiated exchange is done; its AUTH payloads then cover IntAuth
(signed_octets). Either side's message may come in RFC 7383 fragments (an ML-KEM-1024 key or
ciphertext does not fit 1280 bytes); IntAuth covers the message as if whole and unencrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikev2d.crypto.auth import intermediate_auth, unprotected_octets
from ikev2d.crypto.keys import derive_intermediate_ike_keys
from ikev2d.crypto.sk import SkCodec
from ikev2d.wire.enums import ExchangeType
from ikev2d.wire.message import Header, encode_payloads
from ikev2d.wire.payloads import KePayload, Payload

from .context import Rng
from .errors import InvalidSyntax
from .ike_sa_init import run_key_exchange
from .rules import check_request
from .sa import IkeSa

__all__ = ["Intermediate", "complete_intermediate", "handle_intermediate", "require_key_exchanges"]

_MID = 4  # octets of the IKE_AUTH message ID at the end of IntAuth


@dataclass(slots=True)
class Intermediate:
    """An answered IKE_INTERMEDIATE exchange, before its keys take over."""

    payloads: list[Payload]
    shared: bytes | None  # SK(n), or None for an exchange without a key exchange


def handle_intermediate(sa: IkeSa, inner: list[Payload], rng: Rng) -> Intermediate:
    """Our response to the client's IKE_INTERMEDIATE request; IkeError for a bad one."""
    check_request(ExchangeType.IKE_INTERMEDIATE, inner)
    ke = next((p for p in inner if isinstance(p, KePayload)), None)
    pending = sa.half_open.pending_ke
    if not pending:
        if ke is not None:
            raise InvalidSyntax("a KE payload after the last additional key exchange")
        return Intermediate([], None)  # RFC 9242 allows exchanges for other data: none we know
    method = pending[0]
    if ke is None or ke.group != method:
        sent = "no KE" if ke is None else f"KE method {ke.group}"
        raise InvalidSyntax(f"{sent} in IKE_INTERMEDIATE, additional key exchange {method} due")
    ours, shared = run_key_exchange(method, ke.data, rng)
    return Intermediate([KePayload(method, ours)], shared)


def complete_intermediate(
    sa: IkeSa, mid: int, request: tuple[bytes, int, bytes], done: Intermediate
) -> None:
    """After the response went out: extend IntAuth with both messages, then switch keys.

    `request` is the client's message as (28-byte IKE header, first inner payload type,
    plaintext payloads); our response is rebuilt the way Responder._respond built it."""
    header, first, plain = request
    ours = Header(sa.spi_i, sa.spi_r, ExchangeType.IKE_INTERMEDIATE, mid,
                  initiator=sa.initiator, response=True).encode()  # fmt: skip
    first_r, plain_r = encode_payloads(done.payloads)
    prf, keys, hs = sa.prf, sa.keys, sa.half_open
    n = prf.output_len
    before_i, before_r = (hs.int_auth[:n], hs.int_auth[n : 2 * n]) if hs.int_auth else (b"", b"")
    auth_i = intermediate_auth(prf, keys.sk_pi, before_i, unprotected_octets(header, first, plain))
    auth_r = intermediate_auth(
        prf, keys.sk_pr, before_r, unprotected_octets(ours, first_r, plain_r)
    )
    # IKE_AUTH follows with the next message ID (§3.3.1 IKE_AUTH_MID); another
    # IKE_INTERMEDIATE would overwrite it
    hs.int_auth = auth_i + auth_r + (mid + 1).to_bytes(_MID, "big")
    if done.shared is None:
        return
    conf = sa.proposal
    sa.keys = derive_intermediate_ike_keys(
        prf, keys, conf.encr, conf.integ, hs.nonce_i, hs.nonce_r, sa.spi_i, sa.spi_r, done.shared
    )
    hs.codec_in_prev = sa.codec_in
    sa.codec_in = SkCodec(conf.encr, conf.integ, sa.keys.i_to_r)
    sa.codec_out = SkCodec(conf.encr, conf.integ, sa.keys.r_to_i)
    hs.pending_ke = hs.pending_ke[1:]


def require_key_exchanges(sa: IkeSa) -> None:
    """IKE_AUTH must not begin before the negotiated additional key exchanges are done."""
    pending = sa.half_open.pending_ke
    if pending:
        raise InvalidSyntax(
            f"IKE_AUTH before {len(pending)} additional key exchange(s) in IKE_INTERMEDIATE"
        )
