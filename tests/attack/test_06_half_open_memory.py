"""Item 6: half-open SAs pinned ~126 KiB each.

An IKE_SA_INIT of up to 64 KiB was kept whole and each half-open SA could hold 64 KiB of
fragments; with 2048 half-open SAs allowed (32 per address) 64 source addresses pinned
~250 MiB. Now: IKE_SA_INIT above 4 KiB is dropped unread, a client that has not
authenticated may have 16 KiB of fragments, EAP keeps only what the Child SA needs, and the
unset half-open limits follow the router's memory so the worst case stays within 1..4 MiB.
"""

from __future__ import annotations

import os
import tracemalloc

from attack_support import SERVER, Client, events, responder, roundtrip

from ikev2d.ike.sa import SaState
from ikev2d.wire.enums import ExchangeType, IdType, NotifyType
from ikev2d.wire.message import Header
from ikev2d.wire.payloads import IdiPayload, NotifyPayload, VendorIdPayload

MiB = 1 << 20
WORST_HALF_OPEN_BYTES = 32 * 1024  # what ikev2d.ike.dos counts one half-open SA at, at most
FRAGMENTS = (NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),)


def _padded(size: int) -> tuple:
    """IKE_SA_INIT payloads making a message of about `size` bytes (a long vendor ID)."""
    return (*FRAGMENTS, VendorIdPayload(b"v" * (size - 600)))


def _half_open(r, src, init_size: int, fragment_bytes: int) -> Client:
    """A half-open SA from `src` with an IKE_SA_INIT of ~init_size bytes and
    `fragment_bytes` of an IKE_AUTH that never completes (its last fragment is missing)."""
    client = Client(address=src, ike=("aes256-sha256-curve25519",), extra_init=_padded(init_size))
    (resp,) = roundtrip(r, client.init_request(), src=src)
    client.init_response(resp)
    header = Header(client.spi_i, client.spi_r, ExchangeType.IKE_AUTH, 1, initiator=True).encode()
    chunk, count = 1000, fragment_bytes // 1000
    for n in range(1, count + 1):
        data = client.out.seal(header, 35 if n == 1 else 0, os.urandom(chunk), os.urandom,
                               fragment=(n, count + 1))  # fmt: skip
        r.receive_datagram(data, src, SERVER, 1.0)
    return client


def test_item06_an_oversized_ike_sa_init_is_dropped_unread():
    r = responder()
    client = Client(extra_init=_padded(3900))
    assert len(roundtrip(r, client.init_request())) == 1  # a big real client still gets in
    client = Client(extra_init=_padded(4600))
    assert len(client.init_request()) > 4096
    assert roundtrip(r, client.message1) == [] and len(r._sas) == 1


def test_item06_an_unauthenticated_client_holds_at_most_16_kib_of_fragments():
    r = responder()
    _half_open(r, ("192.0.2.30", 500), 1000, 16000)
    (sa,) = r._sas.values()
    assert sa.state == SaState.HALF_OPEN and sa.reassembly.size == 16000
    _half_open(r, ("192.0.2.31", 500), 1000, 17000)
    (other,) = [s for s in r._sas.values() if s is not sa]
    assert other.reassembly is None  # beyond the bound: the reassembly was dropped


def _eap_start(r, src) -> bytes:
    """{ IDi, CP, SAi2, TSi, TSr, 40 vendor IDs of 900 bytes } asking for EAP."""
    client = Client(address=src)
    (resp,) = roundtrip(r, client.init_request(), src=src)
    client.init_response(resp)
    junk = [VendorIdPayload(os.urandom(900)) for _ in range(40)]  # 36 kB nobody needs
    idi = IdiPayload(IdType.RFC822_ADDR, b"alice@phone")
    return client._protect(ExchangeType.IKE_AUTH, [idi, *client.auth_request_payloads(), *junk])


def test_item06_eap_keeps_only_what_the_child_sa_needs():
    r = responder(auth_mode="eap")
    roundtrip(r, _eap_start(r, ("192.0.2.40", 500)), src=("192.0.2.40", 500))  # imports
    request = _eap_start(r, ("192.0.2.41", 500))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        (resp,) = roundtrip(r, request, src=("192.0.2.41", 500))
        events(r)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    sas = r._sas.values()
    assert resp and all(sa.state == SaState.HALF_OPEN and sa.half_open.eap for sa in sas)
    assert kept < 8 * 1024, kept


def test_item06_the_worst_case_of_the_default_limits_fits_a_small_router():
    for memory, total in ((64 * MiB, 32), (128 * MiB, 32), (512 * MiB, 128), (8 << 30, 128)):
        assert responder(memory_bytes=memory).limits.total == total
    r = responder(memory_bytes=128 * MiB)
    limits = r.limits
    assert limits.cookie_threshold <= limits.total // 4 and limits.per_ip <= limits.total // 4
    # fill every half-open slot with the worst an attacker can send (no cookie demanded yet
    # below the threshold; enough addresses for the per-address limit)
    r.limits = type(limits)(limits.total, limits.per_ip, limits.total, limits.total)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(limits.total):
            _half_open(r, (f"192.0.2.{i + 1}", 500), 4090, 16000)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(r._sas) == limits.total and all(sa.reassembly for sa in r._sas.values())
    client = Client(address=("192.0.2.250", 500))
    assert roundtrip(r, client.init_request(), src=client.address) == []  # full: dropped
    assert used / limits.total <= WORST_HALF_OPEN_BYTES, used / limits.total
    assert used <= 4 * MiB, used
