"""CREATE_CHILD_SA with RFC 9370 additional key exchanges and the IKE_FOLLOWUP_KE exchanges
that run them (§2.2.4), both ways: the client rekeys, and we rekey SAs that have ML-KEM.

   CREATE_CHILD_SA { [N(REKEY_SA)], SA(+KE+ADDKE1), Ni, KEi, [TSi, TSr] } -->
             <-- { SA(+ADDKE1), Nr, N(ADDITIONAL_KEY_EXCHANGE)(link), KEr, [TSi, TSr] }
   IKE_FOLLOWUP_KE { KEi(1), N(ADDITIONAL_KEY_EXCHANGE)(link) } -->   <-- { KEr(1) }
"""

from __future__ import annotations

import os

import pytest
from test_ike_intermediate import X25519, connect_pq, notifies, responder

from ikev2d.crypto import mlkem
from ikev2d.crypto.dh import new_key_exchange
from ikev2d.crypto.keys import derive_child_keys
from ikev2d.ike import events as ev
from ikev2d.ike.followup import MAX_PENDING, PENDING_TIMEOUT
from ikev2d.ike.sa import SaState
from ikev2d.wire.enums import ExchangeType, KeId, NotifyType, ProtocolId
from ikev2d.wire.payloads import KePayload, NoncePayload, NotifyPayload
from ikev2d.wire.sa import Proposal, SaPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload
from testbed.pq_initiator import ADDKE1, PqInitiator, link_of
from testbed.sans_io import PHONE, SERVER, events, roundtrip

pytestmark = pytest.mark.skipif(
    not mlkem.available_methods(), reason="this cryptography has no ML-KEM (tests/unit/crypto)"
)
ML768, X = int(KeId.ML_KEM_768), int(KeId.CURVE25519)


def established(**server):
    r = responder(**server)
    client = PqInitiator(ike=X25519)
    assert client.verify_responder_auth(connect_pq(r, client))
    events(r)
    (sa,) = r.ike_sas()
    return r, client, sa


def addke_of(sa_payload: SaPayload) -> list[tuple[int, int]]:
    return [(t.transform_type, t.transform_id) for t in sa_payload.proposals[0].transforms
            if t.transform_type >= ADDKE1]  # fmt: skip


# -- the client rekeys ----------------------------------------------------------------------------
def test_client_child_rekey_with_pfs_and_mlkem_installs_only_after_the_followup():
    r, client, sa = established()
    old = sa.children[0].spec
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
    _, inner = client.open(resp)
    assert addke_of(next(p for p in inner if isinstance(p, SaPayload))) == [(ADDKE1, ML768)]
    link = link_of(inner)
    assert link and events(r) == []  # nothing installed before the additional exchange
    # IKE_FOLLOWUP_KE { KEi(1), N(ADDITIONAL_KEY_EXCHANGE) } -->   <-- { KEr(1) }
    (resp,) = roundtrip(r, client.followup_request(inner))
    header, reply = client.open(resp)
    assert header.exchange == ExchangeType.IKE_FOLLOWUP_KE and link_of(reply) is None
    (installed,) = events(r)
    assert isinstance(installed, ev.ChildSaInstalled) and installed.replaces == old.inbound_spi
    keys = client.rekey_child_pq_keys(inner, client.followup_secret(reply))
    assert installed.child.encr_key_in == keys.encr_i
    assert installed.child.integ_key_out == keys.integ_r
    assert installed.child.algorithms == "aes256-sha256+ke31+ke1_mlkem768"
    assert sa.children[-1].key_exchanges == ((4, X), (ADDKE1, ML768))
    assert sa.followups is None  # nothing left over


def test_followup_with_an_unknown_link_is_state_not_found():
    r, client, _ = established()
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
    _, inner = client.open(resp)
    (resp,) = roundtrip(r, client.followup_request(inner, link=b"\x00" * 8))
    assert notifies(client.open(resp)[1]) == [NotifyType.STATE_NOT_FOUND]
    assert events(r) == []


def test_followup_with_another_method_is_refused_and_forgotten():
    r, client, sa = established()
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
    _, inner = client.open(resp)
    (resp,) = roundtrip(r, client.followup_request(inner, method=int(KeId.ML_KEM_1024)))
    assert notifies(client.open(resp)[1]) == [NotifyType.INVALID_SYNTAX]
    (resp,) = roundtrip(r, client.followup_request(inner))  # the state is gone
    assert notifies(client.open(resp)[1]) == [NotifyType.STATE_NOT_FOUND]
    assert events(r) == [] and len(sa.children) == 1


def test_unfinished_exchanges_are_bounded_in_number_and_time():
    r, client, sa = established()
    for _ in range(MAX_PENDING):
        (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
        assert link_of(client.open(resp)[1])
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
    assert notifies(client.open(resp)[1]) == [NotifyType.TEMPORARY_FAILURE]
    later = PENDING_TIMEOUT + 1
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi), now=later)
    _, inner = client.open(resp)
    assert link_of(inner) and len(sa.followups) == 1  # the stale ones were dropped


def test_client_ike_rekey_with_mlkem_keys_the_new_sa_with_both_secrets():
    r, client, old_sa = established()
    (resp,) = roundtrip(r, client.rekey_ike_pq_request())
    _, inner = client.open(resp)
    assert link_of(inner) and events(r) == [] and old_sa.state == SaState.ESTABLISHED
    (resp,) = roundtrip(r, client.followup_request(inner))
    _, reply = client.open(resp)
    (rekeyed,) = events(r)
    assert isinstance(rekeyed, ev.IkeSaRekeyed) and old_sa.state == SaState.REKEYED
    client.switch_to_rekeyed(inner, additional=client.followup_secret(reply))
    (resp,) = roundtrip(r, client.request(ExchangeType.INFORMATIONAL, []))
    assert client.open(resp)[1] == []  # the new SA's keys hold both secrets
    new_sa = next(s for s in r.ike_sas())
    assert new_sa.additional_ke == ((ADDKE1, ML768),)
    assert new_sa.algorithms.endswith("-ke1_mlkem768")


def test_preferred_rekey_without_mlkem_needs_no_followup():
    r, client, _ = established()
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi, addke=()))
    _, inner = client.open(resp)
    assert link_of(inner) is None
    (installed,) = events(r)
    assert installed.child.algorithms == "aes256-sha256+ke31"


# -- we rekey -------------------------------------------------------------------------------------
def _answer_child_rekey(client: PqInitiator, request: bytes, choose_addke: bool = True):
    """The client's answer to our CREATE_CHILD_SA: { SA, Nr, KEr, [N(ADDKE)], TSi, TSr }."""
    _, inner = client.open(request)
    offered = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    ke_i = next(p for p in inner if isinstance(p, KePayload))
    kex = new_key_exchange(ke_i.group)
    transforms = offered.transforms if choose_addke else tuple(
        t for t in offered.transforms if t.transform_type < ADDKE1)  # fmt: skip
    reply = [
        SaPayload((Proposal(1, ProtocolId.ESP, (0x0C0C0C0C).to_bytes(4, "big"), transforms),)),
        NoncePayload(os.urandom(32)),
        KePayload(ke_i.group, kex.public_bytes()),
        next(p for p in inner if isinstance(p, TsiPayload)),
        next(p for p in inner if isinstance(p, TsrPayload)),
    ]
    if choose_addke:
        reply.insert(2, NotifyPayload.of(NotifyType.ADDITIONAL_KEY_EXCHANGE, b"client-link"))
    return inner, reply, kex.shared_secret(ke_i.data)


def _client_pq_child_rekey(r, client: PqInitiator) -> None:
    (resp,) = roundtrip(r, client.rekey_child_pq_request(client.child_spi))
    (resp,) = roundtrip(r, client.followup_request(client.open(resp)[1]))
    client.child_spi = client.new_child_spi
    assert any(isinstance(e, ev.ChildSaInstalled) for e in events(r))


def _server_child_rekey(r, client, sa, child) -> tuple[list, list, bytes, bytes]:
    """Our timer rekeys `child`; the client answers, with ML-KEM in IKE_FOLLOWUP_KE.
    (our request's payloads, the client's reply, g^ir, SK(1))."""
    r.handle_timer(child.rekey_at)
    (request,) = [d for d, _, _ in r.datagrams_to_send()]
    inner, reply, shared = _answer_child_rekey(client, request)
    assert addke_of(next(p for p in inner if isinstance(p, SaPayload))) == [(ADDKE1, ML768)]
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, child.rekey_at + 0.1)
    assert events(r) == []  # not before the additional exchange
    # <-- IKE_FOLLOWUP_KE { KEi(1), N(ADDITIONAL_KEY_EXCHANGE)(the client's link) }
    (followup,) = [d for d, _, _ in r.datagrams_to_send()]
    header, finner = client.open(followup)
    assert header.exchange == ExchangeType.IKE_FOLLOWUP_KE and not header.response
    assert link_of(finner) == b"client-link"
    ek = next(p for p in finner if isinstance(p, KePayload))
    ciphertext, secret = mlkem.respond(ek.group, ek.data)
    r.receive_datagram(client.answer(followup, [KePayload(ek.group, ciphertext)]), PHONE,
                       SERVER, child.rekey_at + 0.2)  # fmt: skip
    return inner, reply, shared, secret


def test_server_repeats_the_mlkem_of_a_child_when_it_rekeys_it():
    r, client, sa = established()
    _client_pq_child_rekey(r, client)
    child = sa.children[-1]
    assert child.key_exchanges == ((4, X), (ADDKE1, ML768))
    inner, reply, shared, secret = _server_child_rekey(r, client, sa, child)
    installed = next(e for e in events(r) if isinstance(e, ev.ChildSaInstalled))
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    nonce_r = next(p for p in reply if isinstance(p, NoncePayload)).data
    c = child.proposal
    keys = derive_child_keys(sa.prf, sa.keys.sk_d, c.encr, c.integ, nonce_i, nonce_r, shared,
                             secret)  # fmt: skip
    assert installed.child.encr_key_out == keys.encr_i  # we started it: first keys are ours
    assert installed.child.encr_key_in == keys.encr_r
    assert installed.replaces == child.spec.inbound_spi


def test_server_rekey_of_the_first_child_offers_the_groups_ike_auth_listed():
    """strongSwan lists its esp_proposals' x25519 and ke1_mlkem768 in IKE_AUTH's SA: our rekey
    of the first Child SA (made without a key exchange) offers them."""
    r = responder()
    client = PqInitiator(ike=X25519, child_addke=((4, X), (ADDKE1, ML768)))
    connect_pq(r, client)
    events(r)
    (sa,) = r.ike_sas()
    child = sa.children[0]
    assert child.key_exchanges == ((4, X), (ADDKE1, ML768))
    _server_child_rekey(r, client, sa, child)
    assert any(isinstance(e, ev.ChildSaInstalled) for e in events(r))


def test_server_rekey_of_a_first_child_without_pq_stays_without_pfs():
    r = responder()
    client = PqInitiator(ike=X25519, addke=(), intermediate=False)
    connect_pq(r, client)
    (sa,) = r.ike_sas()
    r.handle_timer(sa.children[0].rekey_at)
    (request,) = [d for d, _, _ in r.datagrams_to_send()]
    _, inner = client.open(request)
    (offered,) = next(p for p in inner if isinstance(p, SaPayload)).proposals
    assert {t.transform_type for t in offered.transforms} == {1, 3, 5}


def test_server_rekey_of_a_first_child_offers_the_ike_sa_mlkem_and_takes_no_pfs_too():
    """IKE_AUTH's Child SA has no key exchange and strongSwan lists none there: for a client
    that ran ML-KEM we offer the IKE SA's group and ML-KEM first, no PFS second."""
    r, client, sa = established()
    child = sa.children[0]
    r.handle_timer(child.rekey_at)
    (request,) = [d for d, _, _ in r.datagrams_to_send()]
    inner, reply, _ = _answer_child_rekey(client, request, choose_addke=False)
    first, second = next(p for p in inner if isinstance(p, SaPayload)).proposals
    assert {(t.transform_type, t.transform_id) for t in first.transforms} >= {
        (4, X), (ADDKE1, ML768)}  # fmt: skip
    assert {t.transform_type for t in second.transforms} == {1, 3, 5}
    # the client takes the second: no KE, no IKE_FOLLOWUP_KE
    no_pfs = Proposal(2, ProtocolId.ESP, (0x0C0C0C0C).to_bytes(4, "big"), second.transforms)
    reply = [SaPayload((no_pfs,)), *[p for p in reply if isinstance(p, NoncePayload | TsiPayload
                                                                    | TsrPayload)]]  # fmt: skip
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, child.rekey_at + 0.1)
    installed = next(e for e in events(r) if isinstance(e, ev.ChildSaInstalled))
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    nonce_r = next(p for p in reply if isinstance(p, NoncePayload)).data
    c = child.proposal
    keys = derive_child_keys(sa.prf, sa.keys.sk_d, c.encr, c.integ, nonce_i, nonce_r)
    assert installed.child.encr_key_out == keys.encr_i
    assert installed.child.algorithms == "aes256-sha256"


def test_server_rekey_of_a_first_child_with_the_ike_sa_mlkem():
    r, client, sa = established()
    _server_child_rekey(r, client, sa, sa.children[0])
    installed = next(e for e in events(r) if isinstance(e, ev.ChildSaInstalled))
    assert installed.child.algorithms == "aes256-sha256+ke31+ke1_mlkem768"


def test_server_rekeys_an_ike_sa_made_with_mlkem_with_it():
    r, client, sa = established()
    r.handle_timer(sa.rekey_at)
    (request,) = [d for d, _, _ in r.datagrams_to_send()]
    _, inner = client.open(request)
    offered = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    assert addke_of(SaPayload((offered,))) == [(ADDKE1, ML768)]
    ke_i = next(p for p in inner if isinstance(p, KePayload))
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    kex = new_key_exchange(ke_i.group)
    new_spi_r, nonce_r = os.urandom(8), os.urandom(32)
    reply = [
        SaPayload((Proposal(1, ProtocolId.IKE, new_spi_r, offered.transforms),)),
        NoncePayload(nonce_r),
        NotifyPayload.of(NotifyType.ADDITIONAL_KEY_EXCHANGE, b"L"),
        KePayload(ke_i.group, kex.public_bytes()),
    ]
    old_client = PqInitiator.__new__(PqInitiator)
    old_client.__dict__.update(client.__dict__)
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, sa.rekey_at + 1)
    assert events(r) == [] and sa.state == SaState.ESTABLISHED
    (followup,) = [d for d, _, _ in r.datagrams_to_send()]
    _, finner = client.open(followup)
    ek = next(p for p in finner if isinstance(p, KePayload))
    ciphertext, secret = mlkem.respond(ek.group, ek.data)
    r.receive_datagram(client.answer(followup, [KePayload(ek.group, ciphertext)]), PHONE,
                       SERVER, sa.rekey_at + 2)  # fmt: skip
    (rekeyed,) = events(r)
    assert isinstance(rekeyed, ev.IkeSaRekeyed) and sa.state == SaState.REKEYED
    ((delete, _, _),) = r.datagrams_to_send()  # the old SA's Delete
    assert old_client.open(delete)[1][0].protocol == ProtocolId.IKE
    client.switch_to_rekeyed(
        [SaPayload((Proposal(1, ProtocolId.IKE, offered.spi, ()),)), NoncePayload(nonce_i),
         ke_i],
        we_initiated=False, peer_nonce=nonce_r, peer_spi=new_spi_r, kex=kex, additional=secret,
    )  # fmt: skip
    (resp,) = roundtrip(r, client.request(ExchangeType.INFORMATIONAL, []), now=sa.rekey_at + 3)
    assert client.open(resp)[1] == []  # the new SA holds the ML-KEM secret too
    new_sa = next(s for s in r.ike_sas())
    assert new_sa.initiator and new_sa.additional_ke == ((ADDKE1, ML768),)


def test_a_refused_followup_fails_our_rekey_and_keeps_the_child():
    r, client, sa = established()
    _client_pq_child_rekey(r, client)
    child = sa.children[-1]
    r.handle_timer(child.rekey_at)
    (request,) = [d for d, _, _ in r.datagrams_to_send()]
    _, reply, _ = _answer_child_rekey(client, request)
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, child.rekey_at + 0.1)
    (followup,) = [d for d, _, _ in r.datagrams_to_send()]
    refusal = [NotifyPayload.of(NotifyType.NO_PROPOSAL_CHOSEN)]
    r.receive_datagram(client.answer(followup, refusal), PHONE, SERVER, child.rekey_at + 0.2)
    (failed,) = events(r)
    assert isinstance(failed, ev.NegotiationFailed) and "IKE_FOLLOWUP_KE" in failed.reason
    assert child in sa.children and not child.rekeying


def test_reload_to_required_keeps_a_client_that_ran_mlkem():
    from testbed.sans_io import make_config

    r, _client, sa = established()
    assert r.update_config(make_config(post_quantum="required"), now=5.0) == []
    assert sa.state == SaState.ESTABLISHED
