"""IPv6 outside the tunnel (outer addresses, MOBIKE between families) and inside it."""

from __future__ import annotations

import ipaddress
import os

from ike_initiator import Initiator
from test_ike_responder import Spis, events, make_config, roundtrip

from ikev2d.ike import events as ev
from ikev2d.ike.responder import Responder
from ikev2d.wire.enums import NotifyType
from ikev2d.wire.payloads import NotifyPayload

PHONE6 = ("2001:db8:2::2", 500)
SERVER6 = ("2001:db8:1::1", 500)
MOBIKE = NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED)


def connect(r: Responder, client: Initiator, src, dst, extra=()):
    (resp,) = roundtrip(r, client.init_request(), src=src, dst=dst)
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request(extra=extra), src=src, dst=dst)
    return client.open(resp)[1]


def test_client_over_ipv6_gets_a_tunnel_with_ipv6_outer_addresses():
    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis())
    client = Initiator(address=PHONE6, server=SERVER6)
    inner = connect(r, client, PHONE6, SERVER6)
    assert client.verify_responder_auth(inner)
    established, installed = events(r)
    assert isinstance(established, ev.IkeSaEstablished) and established.remote == PHONE6
    assert not established.nat  # the NAT detection hashes of IPv6 addresses match
    assert (installed.child.local, installed.child.remote) == (SERVER6, PHONE6)


def test_mobike_clients_learn_our_other_addresses():
    asked = []

    def other_addresses(contacted: str) -> list[str]:
        asked.append(contacted)
        return ["2001:db8:1::1", "198.51.100.7"] + [f"2001:db8:1::{n}" for n in range(2, 12)]

    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis(),
                  other_addresses=other_addresses)  # fmt: skip
    inner = connect(r, Initiator(), ("192.0.2.10", 500), ("198.51.100.1", 500), extra=(MOBIKE,))
    announced = [
        (p.notify_type, ipaddress.ip_address(p.data))
        for p in inner
        if isinstance(p, NotifyPayload)
        and p.notify_type in (NotifyType.ADDITIONAL_IP4_ADDRESS, NotifyType.ADDITIONAL_IP6_ADDRESS)
    ]
    assert asked == ["198.51.100.1"]
    assert announced[:2] == [
        (NotifyType.ADDITIONAL_IP6_ADDRESS, ipaddress.ip_address("2001:db8:1::1")),
        (NotifyType.ADDITIONAL_IP4_ADDRESS, ipaddress.ip_address("198.51.100.7")),
    ]
    assert len(announced) == 8  # a bounded list
    # without MOBIKE nothing is announced (the client could not move anyway)
    inner = connect(r, Initiator(), ("192.0.2.11", 500), ("198.51.100.1", 500))
    assert not any(p.notify_type == NotifyType.ADDITIONAL_IP6_ADDRESS
                   for p in inner if isinstance(p, NotifyPayload))  # fmt: skip
