"""IPv6 outside the tunnel (outer addresses, MOBIKE between families) and inside it."""

from __future__ import annotations

import ipaddress
import os

from ikev2d.daemon.actions import tunnel_from_spec
from ikev2d.ike import events as ev
from ikev2d.ike.responder import Responder
from ikev2d.kernel.tunnel import OWNED_REQIDS
from ikev2d.wire.cp import CpPayload
from ikev2d.wire.enums import CfgAttr, NotifyType
from ikev2d.wire.payloads import NotifyPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload
from testbed.ike_initiator import Initiator, RekeyingInitiator
from testbed.sans_io import Spis, events, make_config, roundtrip

PHONE6 = ("2001:db8:2::2", 500)
SERVER6 = ("2001:db8:1::1", 500)
MOBIKE = NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED)
REQID = OWNED_REQIDS.start + 1


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


# -- inside: pool6, CP and traffic selectors ---------------------------------------------------
DUAL = (CfgAttr.INTERNAL_IP4_ADDRESS, CfgAttr.INTERNAL_IP6_ADDRESS, CfgAttr.INTERNAL_IP4_DNS,
        CfgAttr.INTERNAL_IP6_DNS)  # fmt: skip
BOTH = ("0.0.0.0/0", "::/0")


def inside(client_attrs=DUAL, ts=BOTH, **server):
    base = {"pool6": "fd00:99::/64", "dns": ["192.168.1.1", "fd00:1::1"],
            "local_subnet": ["192.168.1.0/24", "fd00:1::/64"]}  # fmt: skip
    config = make_config(**{**base, **server})
    r = Responder(config, rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator()
    (resp,) = roundtrip(r, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request(cp_attrs=client_attrs, ts=ts))
    inner = client.open(resp)[1]
    return r, client, inner, events(r)


def selectors(inner, kind) -> list[str]:
    (payload,) = [p for p in inner if isinstance(p, kind)]
    return [str(n) for t in payload.selectors for n in t.networks()]


def test_dual_stack_client_gets_both_addresses_and_both_families_of_lan():
    r, _, inner, evs = inside()
    cp = next(p for p in inner if isinstance(p, CpPayload))
    (v4,) = cp.values(CfgAttr.INTERNAL_IP4_ADDRESS)
    (v6,) = cp.values(CfgAttr.INTERNAL_IP6_ADDRESS)
    assert v6 == ipaddress.IPv6Interface(f"fd00:99::{int(v4) & 0xFF:x}/64")  # same host number
    assert cp.values(CfgAttr.INTERNAL_IP6_DNS) == [ipaddress.ip_address("fd00:1::1")]
    assert cp.values(CfgAttr.INTERNAL_IP4_DNS) == [ipaddress.ip_address("192.168.1.1")]
    assert selectors(inner, TsiPayload) == [f"{v4}/32", f"{v6.ip}/128"]
    assert selectors(inner, TsrPayload) == ["192.168.1.0/24", "fd00:1::/64"]
    established, installed = evs
    assert established.virtual_ip6 == str(v6.ip)
    spec = installed.child
    assert spec.local_ts == ("192.168.1.0/24", "fd00:1::/64") and spec.refused_ts == ()
    assert spec.remote_ts == (f"{v4}/32", f"{v6.ip}/128")
    (sa,) = r.ike_sas()
    assert sa.client.virtual_ip6 == str(v6.ip)


def test_client_asking_for_ipv4_only_gets_no_ipv6():
    _, _, inner, _ = inside(client_attrs=(CfgAttr.INTERNAL_IP4_ADDRESS,))
    cp = next(p for p in inner if isinstance(p, CpPayload))
    assert cp.values(CfgAttr.INTERNAL_IP6_ADDRESS) == []
    assert selectors(inner, TsrPayload) == ["192.168.1.0/24"]
    assert len(selectors(inner, TsiPayload)) == 1
    # nor one whose selectors ask for no IPv6, though its CP does
    _, _, inner, _ = inside(ts=("0.0.0.0/0",))
    assert (
        next(p for p in inner if isinstance(p, CpPayload)).values(CfgAttr.INTERNAL_IP6_ADDRESS)
        == []
    )


def test_full_tunnel_claims_all_of_ipv6():
    _, _, inner, evs = inside(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"], masquerade=True)
    assert selectors(inner, TsrPayload) == ["0.0.0.0/0", "::/0"]
    assert evs[1].child.local_ts == ("0.0.0.0/0", "::/0") and evs[1].child.refused_ts == ()


def test_full_tunnel_without_pool6_takes_ipv6_in_and_refuses_it():
    """No IPv6 address, yet ::/0 on both sides: a dual-stack phone sends its IPv6 into the
    tunnel rather than around it; the kernel gets no IPv6 policy, so the router drops it."""
    _, _, inner, evs = inside(pool6="off", local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"],
                              masquerade=True)  # fmt: skip
    cp = next(p for p in inner if isinstance(p, CpPayload))
    assert cp.values(CfgAttr.INTERNAL_IP6_ADDRESS) == []
    assert selectors(inner, TsrPayload) == ["0.0.0.0/0", "::/0"]
    assert selectors(inner, TsiPayload)[1:] == ["::/0"]
    spec = evs[1].child
    assert set(spec.refused_ts) == {"::/0"}
    tunnel = tunnel_from_spec(spec, REQID)
    assert all(n.version == 4 for n in (*tunnel.local_ts, *tunnel.remote_ts)), tunnel


def test_client_rekey_keeps_both_families():
    r, client, inner, _ = inside()
    tsi, tsr = selectors(inner, TsiPayload), selectors(inner, TsrPayload)
    (resp,) = roundtrip(r, client.rekey_child_request(client.child_spi, ts=(BOTH, BOTH)))
    _, rekeyed = client.open(resp)
    assert selectors(rekeyed, TsiPayload) == tsi and selectors(rekeyed, TsrPayload) == tsr
