"""Protection of one IKE SA's messages: opening (SK, or RFC 7383 fragments reassembled),
recognising an authentic retransmission, and sealing (fragmented to the path when agreed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ikev2d.crypto.errors import IntegrityError
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import Header, decode_message, decode_payloads, encode_payloads
from ikev2d.wire.payloads import EncryptedFragmentPayload, EncryptedPayload, Payload

from .context import Rng
from .fragments import (
    MAX_FRAGMENTS,
    MAX_REASSEMBLED,
    MAX_REASSEMBLED_UNAUTHENTICATED,
    REASSEMBLY_TIMEOUT,
    Reassembly,
    ike_message_limit,
    open_fragment,
    seal_fragments,
)
from .sa import IkeSa, SaState

if TYPE_CHECKING:
    from ikev2d.policy.config import ServerConfig

__all__ = ["decode_inner", "is_retransmission", "open_message", "open_plain", "seal"]


def open_message(sa: IkeSa, data: bytes, now: float) -> list[Payload] | ParseError | None:
    """The decrypted payloads; None to drop (not authentic, not for us, or a fragment of
    a message still incomplete), a ParseError when authentic but malformed inside (answered
    with INVALID_SYNTAX)."""
    opened = open_plain(sa, data, now)
    return None if opened is None else decode_inner(opened)


def decode_inner(opened: tuple[int, bytes]) -> list[Payload] | ParseError:
    """The payloads of open_plain's (first inner payload type, plaintext)."""
    try:
        return decode_payloads(*opened)
    except ParseError as e:
        return e


def open_plain(sa: IkeSa, data: bytes, now: float) -> tuple[int, bytes] | None:
    """(first inner payload type, decrypted payload chain) of an authentic message, its
    fragments reassembled; None to drop (see open_message)."""
    try:
        msg = decode_message(data)
    except ParseError:
        return None
    if len(msg.payloads) != 1:
        return None
    sk = msg.payloads[0]
    if isinstance(sk, EncryptedFragmentPayload):
        return _reassemble(sa, msg.header, data, sk, now)
    if not isinstance(sk, EncryptedPayload):
        return None
    try:
        plain = sa.codec_in.open(data, len(data) - len(sk.data))
    except IntegrityError:
        return None
    sa.last_inbound = max(sa.last_inbound, now)
    return sk.first_inner_type, plain


def _reassemble(
    sa: IkeSa, header: Header, data: bytes, frag: EncryptedFragmentPayload, now: float
) -> tuple[int, bytes] | None:
    if not sa.client.fragmentation or frag.total > MAX_FRAGMENTS:
        return None
    plain = open_fragment(sa.codec_in, data, frag)
    if plain is None:
        return None
    sa.last_inbound = max(sa.last_inbound, now)
    key = (header.response, header.message_id)
    re = sa.reassembly
    if re is None or re.key != key or now - re.started > REASSEMBLY_TIMEOUT:
        unauthenticated = sa.state == SaState.HALF_OPEN
        limit = MAX_REASSEMBLED_UNAUTHENTICATED if unauthenticated else MAX_REASSEMBLED
        re = sa.reassembly = Reassembly(header.message_id, frag.total, started=now, limit=limit)
        re.key = key
    try:
        whole = re.add(frag, plain)
    except ValueError:
        sa.reassembly = None
        return None
    if whole is None:
        return None
    sa.reassembly = None
    return re.first_inner_type, whole


def is_retransmission(sa: IkeSa, data: bytes) -> bool:
    """An authentic copy of the request we last answered (for a fragmented one, its
    first fragment: RFC 7383 §2.6.1 answers once per retransmission). After an
    IKE_INTERMEDIATE exchange the keys changed: its request is checked with the old ones."""
    try:
        msg = decode_message(data)
    except ParseError:
        return False
    if len(msg.payloads) != 1:
        return False
    sk = msg.payloads[0]
    previous = sa.handshake.codec_in_prev if sa.handshake is not None else None
    codecs = (sa.codec_in,) if previous is None else (previous, sa.codec_in)
    first_fragment = sk if isinstance(sk, EncryptedFragmentPayload) and sk.number == 1 else None
    for codec in codecs:
        if first_fragment is not None and open_fragment(codec, data, first_fragment) is not None:
            return True
        if isinstance(sk, EncryptedPayload):
            try:
                codec.open(data, len(data) - len(sk.data))
            except IntegrityError:
                continue
            return True
    return False


def seal(
    sa: IkeSa, header: bytes, payloads: list[Payload], config: ServerConfig, rng: Rng
) -> list[bytes]:
    first, body = encode_payloads(payloads)
    limit = 1 << 16
    if sa.client.fragmentation:
        natt = sa.local[1] == config.natt_port
        limit = ike_message_limit(config.fragment_size, ":" in sa.local[0], natt)
    return seal_fragments(sa.codec_out, header, first, body, rng, limit)
