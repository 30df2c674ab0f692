"""IKE_SA_INIT with RFC 9370 additional key exchanges, the IKE_INTERMEDIATE rounds (RFC 9242)
that run them, and IKE_AUTH covering them, against the in-memory PQ initiator.

   IKE_SA_INIT { SA(.., ADDKE1), KEi, Ni, N(INTERMEDIATE_EXCHANGE_SUPPORTED) } -->
                             <-- { SA(.., ADDKE1), KEr, Nr, N(INTERMEDIATE_EXCHANGE_SUPPORTED) }
   IKE_INTERMEDIATE { KEi(1) } -->             <-- { KEr(1) }        (keys change after it)
   IKE_AUTH { IDi, AUTH(.. | IntAuth), ... } --> <-- { IDr, AUTH(.. | IntAuth), ... }
"""

from __future__ import annotations

import os

import pytest

from ikev2d.crypto import mlkem
from ikev2d.ike import events as ev
from ikev2d.ike.negotiate import AdditionalKe
from ikev2d.ike.responder import Responder
from ikev2d.wire.enums import ExchangeType, KeId, NotifyType
from ikev2d.wire.message import decode_message
from ikev2d.wire.payloads import KePayload, NotifyPayload
from ikev2d.wire.sa import Proposal, SaPayload, Transform
from testbed.pq_initiator import ADDKE1, PqInitiator
from testbed.sans_io import Spis, events, make_config, roundtrip

HAVE_MLKEM = bool(mlkem.available_methods())
needs_mlkem = pytest.mark.skipif(
    not HAVE_MLKEM, reason="this cryptography has no ML-KEM (the test_without_mlkem_* run)"
)
ML768, ML1024 = int(KeId.ML_KEM_768), int(KeId.ML_KEM_1024)
X25519 = ("aes256-sha256-curve25519",)


def responder(**server) -> Responder:
    return Responder(make_config(**server), rng=os.urandom, allocate_spi=Spis())


def send(r: Responder, datagrams: list[bytes], now=0.0) -> list[bytes]:
    out = []
    for d in datagrams:
        out += roundtrip(r, d, now=now)
    return out


def notifies(payloads) -> list[int]:
    return [p.notify_type for p in payloads if isinstance(p, NotifyPayload)]


def init(r: Responder, client: PqInitiator):
    # IKE_SA_INIT { SAi1 (ADDKE), KEi, Ni, N(INTERMEDIATE_EXCHANGE_SUPPORTED) } -->
    (resp,) = roundtrip(r, client.init_request())
    return client.init_response(resp)


def connect_pq(r: Responder, client: PqInitiator):
    init(r, client)
    while client.pending:
        client.intermediate_response(send(r, client.intermediate_request()))
    (resp,) = roundtrip(r, client.auth_request())
    return client.open(resp)[1]


@needs_mlkem
def test_x25519_with_mlkem768_runs_one_intermediate_exchange_and_auth_covers_it():
    r = responder()
    client = PqInitiator(ike=X25519)
    msg = init(r, client)
    assert client.chosen_addke == [(ADDKE1, ML768)]
    assert NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED in notifies(msg.payloads)
    sa = next(iter(r._sas.values()))
    keys_after_init = sa.keys

    # IKE_INTERMEDIATE { KEi(1) } -->   <-- { KEr(1) }
    request = client.intermediate_request()
    datagrams = send(r, request)
    assert decode_message(datagrams[0]).header.exchange == ExchangeType.IKE_INTERMEDIATE
    (ke,) = client.intermediate_response(datagrams)
    assert (ke.group, len(ke.data)) == (ML768, 1088)  # an ML-KEM-768 ciphertext
    assert sa.keys != keys_after_init and sa.keys.sk_d == client.keys.sk_d

    # IKE_AUTH: both AUTHs cover IntAuth (the client checks ours with it)
    (resp,) = roundtrip(r, client.auth_request())
    header, inner = client.open(resp)
    assert header.message_id == 2 and client.verify_responder_auth(inner)
    established, installed = events(r)
    assert isinstance(established, ev.IkeSaEstablished)
    assert established.algorithms == "aes256-sha256-curve25519-ke1_mlkem768"
    # the first Child SA's keys come from the updated SK_d
    keys = client.child_keys()
    assert (
        installed.child.encr_key_in == keys.encr_i and installed.child.encr_key_out == keys.encr_r
    )
    assert sa.handshake is None  # IntAuth and the old keys are not kept once established


@needs_mlkem
def test_two_additional_exchanges_change_the_keys_twice():
    r = responder()
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (ML768,)), (ADDKE1 + 1, (ML1024,))))
    inner = connect_pq(r, client)
    assert client.chosen_addke == [(ADDKE1, ML768), (ADDKE1 + 1, ML1024)]
    assert client.rounds == 2 and client.verify_responder_auth(inner)
    assert events(r)[0].algorithms.endswith("-ke1_mlkem768-ke2_mlkem1024")


@needs_mlkem
def test_mlkem1024_exchange_is_fragmented_both_ways():
    r = responder(fragmentation=True)
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (ML1024,)),), fragments=True)
    init(r, client)
    request = client.intermediate_request()
    assert len(request) == 2  # a 1568-byte key does not fit 1280 bytes
    response = send(r, request)
    assert len(response) == 2 and all(len(d) <= 1252 for d in response)
    assert decode_message(response[0]).payloads[0].payload_type == 53  # SKF
    client.intermediate_response(response)
    (resp,) = roundtrip(r, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


@needs_mlkem
def test_an_answered_intermediate_request_is_answered_again_after_the_key_change():
    r = responder()
    client = PqInitiator(ike=X25519)
    init(r, client)
    request = client.intermediate_request()
    first = send(r, request)
    assert send(r, request) == first  # the response was lost: same bytes, old keys
    client.intermediate_response(first)
    (resp,) = roundtrip(r, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


@needs_mlkem
def test_auth_without_intauth_is_refused():
    r = responder()
    client = PqInitiator(ike=X25519)
    init(r, client)
    client.intermediate_response(send(r, client.intermediate_request()))
    client.int_auth = b""  # an initiator that forgets RFC 9242 §3.3
    (resp,) = roundtrip(r, client.auth_request())
    assert notifies(client.open(resp)[1]) == [NotifyType.AUTHENTICATION_FAILED]
    assert r._sas == {}


@needs_mlkem
def test_ike_auth_before_the_additional_exchange_is_invalid_syntax():
    r = responder()
    client = PqInitiator(ike=X25519)
    init(r, client)
    (resp,) = roundtrip(r, client.auth_request())
    assert notifies(client.open(resp)[1]) == [NotifyType.INVALID_SYNTAX]
    assert r._sas == {}


@needs_mlkem
@pytest.mark.parametrize("ke", [KePayload(31, bytes(32)), KePayload(ML1024, bytes(1568)), None])
def test_intermediate_with_another_or_no_key_exchange_is_invalid_syntax(ke):
    r = responder()
    client = PqInitiator(ike=X25519)
    init(r, client)
    if ke is None:
        from ikev2d.wire.payloads import VendorIdPayload

        ke = VendorIdPayload(b"no KE here")
    (resp,) = send(r, client.intermediate_request(ke))
    assert notifies(client.open(resp)[1]) == [NotifyType.INVALID_SYNTAX]
    assert r._sas == {}


@needs_mlkem
def test_a_key_that_fails_the_modulus_check_is_invalid_syntax():
    r = responder()
    client = PqInitiator(ike=X25519)
    init(r, client)
    (resp,) = send(r, client.intermediate_request(KePayload(ML768, b"\xff" * 1184)))
    assert notifies(client.open(resp)[1]) == [NotifyType.INVALID_SYNTAX]


# -- post_quantum ---------------------------------------------------------------------------------
@needs_mlkem
def test_preferred_accepts_a_client_without_mlkem():
    r = responder(post_quantum="preferred")
    client = PqInitiator(ike=X25519, addke=(), intermediate=False)
    msg = init(r, client)
    assert NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED not in notifies(msg.payloads)
    assert client.pending == []
    (resp,) = roundtrip(r, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


@needs_mlkem
@pytest.mark.parametrize(
    ("offer", "intermediate"),
    [((), True), (((ADDKE1, (ML768, 0)),), True), (((ADDKE1, (ML768,)),), False)],
    ids=["no-addke", "optional-addke-taken-as-none", "no-intermediate-support"],
)
@needs_mlkem
def test_required_refuses_a_client_without_mlkem(offer, intermediate):
    r = responder(post_quantum="required")
    client = PqInitiator(ike=X25519, addke=offer, intermediate=intermediate)
    if offer and intermediate:  # offered but optional: required takes it, so make it unusable
        client = PqInitiator(ike=X25519, addke=((ADDKE1, (int(KeId.ML_KEM_512), 0)),))
    msg = init(r, client)
    assert notifies(msg.payloads) == [NotifyType.NO_PROPOSAL_CHOSEN]
    (failed,) = events(r)
    assert "post_quantum is required" in failed.reason
    assert r._sas == {}


@needs_mlkem
def test_required_takes_an_optional_mlkem():
    r = responder(post_quantum="required")
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (ML768, 0)),))
    init(r, client)
    assert client.chosen_addke == [(ADDKE1, ML768)]


@needs_mlkem
def test_off_takes_none_and_refuses_a_mandatory_mlkem():
    r = responder(post_quantum="off")
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (ML768, 0)),))
    msg = init(r, client)
    assert client.chosen_addke == []
    assert NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED not in notifies(msg.payloads)
    r = responder(post_quantum="off")
    msg = init(r, PqInitiator(ike=X25519))
    assert notifies(msg.payloads) == [NotifyType.NO_PROPOSAL_CHOSEN]


# -- the choice itself ----------------------------------------------------------------------------
def _offer(*transforms: tuple[int, int]) -> Proposal:
    return Proposal(1, 1, b"", tuple(Transform(t, m) for t, m in transforms))


@pytest.mark.parametrize(
    ("offered", "policy", "expected"),
    [
        ([(6, ML1024), (6, ML768)], (ML768, ML1024), ((6, ML768),)),  # our preference wins
        ([(6, 35)], (ML768, ML1024), None),  # ML-KEM-512 alone: not ours
        ([(6, 35), (6, 0)], (ML768, ML1024), ()),  # ... but optional
        ([(6, ML768), (7, ML768)], (ML768, ML1024), None),  # never the same method twice
        ([(6, ML768), (7, ML768), (7, ML1024)], (ML768, ML1024), ((6, ML768), (7, ML1024))),
        ([(7, ML1024), (6, ML768)], (ML768,), None),  # ADDKE2 mandatory and unsupported
        ([], (), ()),
    ],
)
def test_additional_key_exchange_choice(offered, policy, expected):
    assert AdditionalKe(policy).choose(_offer(*offered)) == expected
    assert AdditionalKe(policy, required=True).choose(_offer(*offered)) == (expected or None)


@needs_mlkem
def test_reply_leaves_none_out():
    r = responder()
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (0,)), (ADDKE1 + 1, (ML768, 0))))
    msg = init(r, client)
    chosen = msg.get(SaPayload).proposals[0].transforms
    assert [(t.transform_type, t.transform_id) for t in chosen if t.transform_type >= 6] == [
        (ADDKE1 + 1, ML768)
    ]


@needs_mlkem
def test_ke_and_addke_in_ike_auth_sa_are_ignored():
    """The first Child SA has no key exchange of its own: what IKE_AUTH's SA offers for later
    rekeys (strongSwan sends esp_proposals' x25519 and ke1_mlkem768 there) is not negotiated."""
    r = responder()
    client = PqInitiator(ike=X25519, child_addke=((4, 31), (ADDKE1, ML768)))
    inner = connect_pq(r, client)
    assert client.verify_responder_auth(inner)
    sa2 = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    assert {t.transform_type for t in sa2.transforms} == {1, 3, 5}


def test_without_mlkem_preferred_takes_none_and_required_refuses_everyone(without_mlkem):
    client = PqInitiator(ike=X25519, addke=((ADDKE1, (ML768, 0)),))
    msg = init(responder(post_quantum="preferred"), client)
    assert client.chosen_addke == []
    assert NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED not in notifies(msg.payloads)
    r = responder(post_quantum="required")
    msg = init(r, PqInitiator(ike=X25519, addke=((ADDKE1, (ML768, 0)),)))
    assert notifies(msg.payloads) == [NotifyType.NO_PROPOSAL_CHOSEN]
    assert "post_quantum is required" in events(r)[0].reason
