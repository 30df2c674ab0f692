"""Hostile input never raises out of the responder and never grows its state without bound.

Random bytes, mutated real messages, and — the deep end — authentic encrypted messages whose
inside is random or a random mix of well-formed payloads, for each exchange type.
"""

from __future__ import annotations

import os
import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikev2d.ike.responder import Responder
from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import ExchangeType
from ikev2d.wire.payloads import (
    AuthPayload,
    DeletePayload,
    IdiPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
)
from ikev2d.wire.sa import Proposal, SaPayload, Transform
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload
from testbed.ike_initiator import RekeyingInitiator
from testbed.sans_io import PHONE, SERVER, Spis, connect, events, make_config

FUZZ = settings(
    max_examples=int(os.environ.get("IKEV2D_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def fresh():
    return Responder(make_config(), rng=os.urandom, allocate_spi=Spis())


def established():
    r = fresh()
    client = RekeyingInitiator()
    connect(r, client)
    events(r)
    return r, client


def feed(r: Responder, data: bytes, now: float = 1.0) -> None:
    r.receive_datagram(data, PHONE, SERVER, now)
    r.datagrams_to_send()
    while r.next_event() is not None:
        pass
    r.handle_timer(now)
    assert len(r._sas) <= 4
    assert len(r.pool) <= len(r._sas)


SAMPLES: list[bytes] = []


def samples() -> list[bytes]:
    if not SAMPLES:
        r = fresh()
        client = RekeyingInitiator()
        SAMPLES.append(client.init_request())
        r.receive_datagram(SAMPLES[0], PHONE, SERVER, 0)
        client.init_response(r.datagrams_to_send()[0][0])
        SAMPLES.append(client.auth_request())
        SAMPLES.append(client.informational())
        SAMPLES.append(client.rekey_child_request(client.child_spi))
        SAMPLES.extend(p.read_bytes() for p in sorted(CORPUS.glob("*.bin")))
    return SAMPLES


# real messages of other implementations, mutated like ours (strongSwan's IKE_SA_INIT, …)
CORPUS = pathlib.Path(__file__).resolve().parents[2] / "interop" / "fixtures"


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data):
    feed(fresh(), data)


@FUZZ
@given(st.data())
def test_mutated_real_messages(data):
    msg = bytearray(data.draw(st.sampled_from(samples())))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "set", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(msg) - 1)))
        if kind == "flip" and msg:
            msg[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate":
            del msg[pos:]
        elif kind == "set" and msg:
            msg[pos] = data.draw(st.integers(0, 255))
        else:
            msg[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    r, _ = established()
    feed(r, bytes(msg))


@FUZZ
@given(
    st.sampled_from(
        [ExchangeType.IKE_AUTH, ExchangeType.INFORMATIONAL, ExchangeType.CREATE_CHILD_SA, 99]
    ),
    st.integers(0, 255),
    st.binary(max_size=600),
)
def test_authentic_messages_with_random_inside(exchange, first, plaintext):
    r, client = established()
    client.mid += 1
    from ikev2d.wire.message import Header

    header = Header(client.spi_i, client.spi_r, exchange, client.mid, initiator=True).encode()
    feed(r, client.out.seal(header, first, plaintext, os.urandom))


addresses = st.sampled_from(["0.0.0.0", "10.10.10.5", "192.168.1.0", "255.255.255.255"])
selectors = st.builds(
    lambda a, b, proto: TrafficSelector.from_range(min(a, b), max(a, b), proto),
    addresses,
    addresses,
    st.sampled_from([0, 6, 17]),
)
transforms = st.builds(
    Transform,
    st.integers(1, 6),
    st.sampled_from([0, 2, 3, 5, 12, 14, 19, 20, 28, 31, 1000]),
    st.sampled_from([None, 128, 256, 7]),
)
payloads = st.one_of(
    st.builds(
        NotifyPayload.of,
        st.sampled_from([16388, 16389, 16393, 16396, 16400, 16404, 24, 7, 16390, 16401]),
        st.binary(max_size=20),
    ),
    st.builds(
        DeletePayload.child,
        st.sampled_from([1, 2, 3]),
        st.lists(st.integers(0, 2**32 - 1), max_size=3),
    ),
    st.just(DeletePayload.ike()),
    st.builds(
        lambda ts: SaPayload((Proposal(1, 3, b"\x01\x02\x03\x04", tuple(ts)),)),
        st.lists(transforms, min_size=1, max_size=5),
    ),
    st.builds(
        lambda ts: SaPayload((Proposal(1, 1, os.urandom(8), tuple(ts)),)),
        st.lists(transforms, min_size=1, max_size=5),
    ),
    st.builds(NoncePayload, st.binary(min_size=16, max_size=40)),
    st.builds(KePayload, st.sampled_from([14, 19, 31, 2, 0]), st.binary(max_size=300)),
    st.builds(lambda s: TsiPayload(tuple(s)), st.lists(selectors, min_size=1, max_size=3)),
    st.builds(lambda s: TsrPayload(tuple(s)), st.lists(selectors, min_size=1, max_size=3)),
    st.builds(
        lambda t: CpPayload(1, tuple(CfgAttribute(x) for x in t)),
        st.lists(st.sampled_from([1, 3, 8, 25]), max_size=3),
    ),
    st.builds(IdiPayload, st.sampled_from([1, 2, 3, 11, 9]), st.binary(max_size=20)),
    st.builds(AuthPayload, st.sampled_from([1, 2, 14]), st.binary(max_size=40)),
    st.builds(UnknownPayload, st.sampled_from([49, 200]), st.booleans(), st.binary(max_size=8)),
)


@FUZZ
@given(
    st.sampled_from([ExchangeType.INFORMATIONAL, ExchangeType.CREATE_CHILD_SA]),
    st.lists(payloads, max_size=7),
)
def test_authentic_messages_with_random_payload_mixes(exchange, chain):
    r, client = established()
    feed(r, client.request(exchange, chain))
    # the SA still answers afterwards (unless the mix deleted it)
    if list(r.ike_sas()):
        r.receive_datagram(client.informational(), PHONE, SERVER, 2.0)
        assert r.datagrams_to_send()


@FUZZ
@given(st.lists(payloads, max_size=8))
def test_ike_auth_with_random_payload_mixes(chain):
    r = fresh()
    client = RekeyingInitiator()
    r.receive_datagram(client.init_request(), PHONE, SERVER, 0.0)
    client.init_response(r.datagrams_to_send()[0][0])
    client.mid = 0
    feed(r, client.request(ExchangeType.IKE_AUTH, chain))


def test_state_stays_bounded_under_many_half_open_attempts():
    r = fresh()
    for i in range(500):
        client = RekeyingInitiator(address=(f"192.0.2.{i % 250 + 1}", 500))
        r.receive_datagram(client.init_request(), client.address, SERVER, i * 0.01)
        r.datagrams_to_send()
    assert len(r._sas) <= r.limits.total
    r.handle_timer(100.0)
    assert r._sas == {} and r._gate.half_open.total == 0


_EAP_WORLD: list = []


def eap_responder_mid_conversation():
    """A responder with users and a certificate, in the EAP rounds of one client."""
    import datetime as dt

    from test_ike_auth_methods import NOW, EapInitiator, responder

    from ikev2d.auth import ca as pki

    if not _EAP_WORLD:
        ca = pki.make_ca("fuzz CA", NOW - dt.timedelta(days=1), os.urandom, key_type="ecdsa-p256")
        srv = pki.issue_server_cert(ca, ["vpn.example.test"], NOW, os.urandom, "ecdsa-p256")
        _EAP_WORLD.append((ca, srv))
    r = responder(_EAP_WORLD[0])
    client = EapInitiator()
    r.receive_datagram(client.init_request(), PHONE, SERVER, 0.0)
    client.init_response(r.datagrams_to_send()[0][0])
    r.receive_datagram(client.first_eap_message(), PHONE, SERVER, 0.0)
    r.datagrams_to_send()
    return r, client


eap_payloads = st.one_of(
    payloads,
    st.builds(EapPayload, st.integers(0, 5), st.integers(0, 255),
              st.sampled_from([None, 1, 3, 26, 254]), st.binary(max_size=80)),
)  # fmt: skip


@FUZZ
@given(st.lists(st.lists(eap_payloads, max_size=4), min_size=1, max_size=4))
def test_eap_rounds_with_random_payload_mixes(rounds):
    r, client = eap_responder_mid_conversation()
    for chain in rounds:
        feed(r, client.next(chain))
