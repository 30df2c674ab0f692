"""The sans-IO responder driven in memory, as the unit, attack and fuzz tests and the
benchmarks drive it: a test configuration, an SPI allocator that records its calls, and the
steps that make tests read like exchanges (`roundtrip`, `connect`, `events`). The client is
testbed.ike_initiator. Plain library code, no pytest.
"""

from __future__ import annotations

from ikev2d.ike.responder import Responder
from ikev2d.policy.config import from_mapping
from ikev2d.wire.enums import ExchangeType

from .ike_initiator import Initiator

__all__ = ["PHONE", "PSK", "SERVER", "Spis", "connect", "events", "make_config", "roundtrip"]

PSK = "correct horse battery staple 42"
SERVER = ("198.51.100.1", 500)
PHONE = ("192.0.2.10", 500)


def make_config(**server):
    base = {
        "enabled": True,
        "psk": PSK,
        "local_id_type": "fqdn",
        "local_id": "vpn.example.test",
        "local_subnet": ["192.168.1.0/24"],
        "dns": ["192.168.1.1"],
    }
    base.update(server)
    return from_mapping({"server": base})


class Spis:
    """allocate_spi for the responder: consecutive SPIs, each call recorded."""

    def __init__(self):
        self.next = 0xC0000100
        self.calls = []

    def __call__(self, local, remote):
        self.calls.append((local, remote))
        self.next += 1
        return self.next


def roundtrip(r: Responder, data: bytes, src=PHONE, dst=SERVER, now=0.0) -> list[bytes]:
    r.receive_datagram(data, src, dst, now)
    out = r.datagrams_to_send()
    for _, local, remote in out:
        assert local == dst and remote == src
    return [d for d, _, _ in out]


def events(r: Responder) -> list:
    out = []
    while (e := r.next_event()) is not None:
        out.append(e)
    return out


def connect(r: Responder, client: Initiator, src=PHONE, now=0.0):
    # IKE_SA_INIT { SAi1, KEi, Ni } -->
    (resp,) = roundtrip(r, client.init_request(), src=src, now=now)
    client.init_response(resp)
    # IKE_AUTH { IDi, AUTH, CP, SAi2, TSi, TSr } -->
    (resp,) = roundtrip(r, client.auth_request(), src=src, now=now)
    header, inner = client.open(resp)
    assert header.exchange == ExchangeType.IKE_AUTH and header.response
    return inner
