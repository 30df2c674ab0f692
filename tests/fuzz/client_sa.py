"""The client's view of its IKE SAs: keys, codecs and what it computes with fixed values.

Our key-exchange private values are fixed per process (one per group), so a replay is the same
every time and costs one key generation per group, not per session.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import random
import struct
from dataclasses import dataclass

from ikev2d.crypto.dh import new_key_exchange
from ikev2d.crypto.keys import IkeKeys
from ikev2d.crypto.prf import Prf
from ikev2d.crypto.sk import SkCodec
from ikev2d.crypto.transforms import lookup

__all__ = ["ClientSa", "natd_hash", "new_sa", "our_kex", "private_key", "transforms_of"]

_KEX_CACHE: dict[int, object] = {}  # our key exchange per group: one private value per process


def our_kex(group: int):
    """A fixed key pair per group (fast, and keeps replays identical)."""
    if group not in _KEX_CACHE:
        _KEX_CACHE[group] = new_key_exchange(group, rng=random.Random(group).randbytes)
    return _KEX_CACHE[group]


@functools.cache
def private_key(pem: str):
    """Loading checks an RSA key (~20 ms): once per process."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem.encode(), None)


def natd_hash(spi_i: bytes, spi_r: bytes, address: tuple[str, int]) -> bytes:
    packed = ipaddress.ip_address(address[0]).packed
    return hashlib.sha1(spi_i + spi_r + packed + struct.pack("!H", address[1])).digest()  # noqa: S324


@dataclass
class ClientSa:
    """One IKE SA as the client sees it."""

    spi_i: bytes
    spi_r: bytes
    prf: Prf
    keys: IkeKeys
    out: SkCodec
    inp: SkCodec
    initiator: bool  # we are its original initiator
    encr: object = None  # transforms and our direction's keys, for hand-made envelopes
    integ: object = None
    out_keys: object = None


def transforms_of(proposal) -> tuple:
    found = {t.transform_type: lookup(t.transform_type, t.transform_id, t.key_length)
             for t in proposal.transforms if t.transform_type <= 4}  # not ADDKE1..7  # fmt: skip
    return found[1], found.get(3), found[2], found.get(4)


def new_sa(prf_t, encr, integ, keys: IkeKeys, spi_i, spi_r, initiator: bool) -> ClientSa:
    mine, theirs = (keys.i_to_r, keys.r_to_i) if initiator else (keys.r_to_i, keys.i_to_r)
    return ClientSa(spi_i, spi_r, Prf(prf_t), keys, SkCodec(encr, integ, mine),
                    SkCodec(encr, integ, theirs), initiator, encr, integ, mine)  # fmt: skip
