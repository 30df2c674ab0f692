"""IKE fragmentation (RFC 7383): splitting our large messages, reassembling the client's.

Each fragment is a whole IKE message with an Encrypted Fragment (SKF) payload, protected on
its own, so a forged fragment is dropped before it costs memory. Reassembly is bounded in
fragments, bytes and time; a newer message ID discards an older incomplete one (§2.6.2). A
client that has not authenticated yet gets a smaller bound: its first IKE_AUTH (certificates,
CERTREQ, proposals) fits in a few kB, and half-open SAs are what an attacker can multiply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ikev2d.crypto.errors import IntegrityError
from ikev2d.crypto.sk import SkCodec
from ikev2d.wire.payloads import EncryptedFragmentPayload

__all__ = [
    "MAX_FRAGMENTS",
    "MAX_REASSEMBLED",
    "MAX_REASSEMBLED_UNAUTHENTICATED",
    "REASSEMBLY_TIMEOUT",
    "Reassembly",
    "ike_message_limit",
    "seal_fragments",
]

MAX_FRAGMENTS = 32  # more than any client uses (Windows: ~626-byte fragments, a few KB)
MAX_REASSEMBLED = 64 * 1024
MAX_REASSEMBLED_UNAUTHENTICATED = 16 * 1024  # 4 certificates, CERTREQ and the rest fit
REASSEMBLY_TIMEOUT = 30.0
_IPV4_UDP, _IPV6_UDP, _NON_ESP_MARKER = 28, 48, 4


def ike_message_limit(fragment_size: int, ipv6: bool, natt: bool) -> int:
    """Largest IKE message in a datagram of `fragment_size` bytes of IP packet."""
    return fragment_size - (_IPV6_UDP if ipv6 else _IPV4_UDP) - (_NON_ESP_MARKER if natt else 0)


def seal_fragments(
    codec: SkCodec,
    header28: bytes,
    first_inner_type: int,
    plaintext: bytes,
    rng: Callable[[int], bytes],
    limit: int,
) -> list[bytes]:
    """The message as one SK message if it fits in `limit`, else as SKF fragments that do."""
    if codec.sealed_len(len(plaintext)) <= limit:
        return [codec.seal(header28, first_inner_type, plaintext, rng)]
    chunk = _chunk_size(codec, limit)
    pieces = [plaintext[i : i + chunk] for i in range(0, len(plaintext), chunk)] or [b""]
    total = len(pieces)
    if total > MAX_FRAGMENTS:
        raise ValueError(f"message needs {total} fragments")
    return [
        codec.seal(header28, first_inner_type if n == 1 else 0, piece, rng, fragment=(n, total))
        for n, piece in enumerate(pieces, 1)
    ]


def _chunk_size(codec: SkCodec, limit: int) -> int:
    size = limit - codec.sealed_len(0, fragment=True)
    while size > 1 and codec.sealed_len(size, fragment=True) > limit:
        size -= 1
    if size < 64:
        raise ValueError(f"fragment size limit {limit} leaves no room for data")
    return size


@dataclass(slots=True)
class Reassembly:
    """Fragments of one message ID being collected."""

    message_id: int
    total: int
    first_inner_type: int = 0
    started: float = 0.0
    parts: dict[int, bytes] = field(default_factory=dict, repr=False)
    size: int = 0
    key: tuple[bool, int] | None = None  # (is a response, message ID)
    limit: int = MAX_REASSEMBLED  # bytes of plaintext at most

    def add(self, frag: EncryptedFragmentPayload, plaintext: bytes) -> bytes | None:
        """Store one authentic fragment; the whole plaintext once complete, else None.
        Raises ValueError for a fragment that does not fit this message (drop it)."""
        if frag.total != self.total:
            raise ValueError("fragment total changed")
        if frag.number in self.parts:
            return None  # a retransmitted fragment
        if self.size + len(plaintext) > self.limit:
            raise ValueError("reassembled message too large")
        if frag.number == 1:
            self.first_inner_type = frag.first_inner_type
        self.parts[frag.number] = plaintext
        self.size += len(plaintext)
        if len(self.parts) < self.total:
            return None
        return b"".join(self.parts[n] for n in range(1, self.total + 1))


def open_fragment(codec: SkCodec, data: bytes, frag: EncryptedFragmentPayload) -> bytes | None:
    """The plaintext of one SKF message, or None if it is not authentic."""
    try:
        return codec.open(data, len(data) - len(frag.data))
    except IntegrityError:
        return None


__all__ += ["open_fragment"]
