"""The responder, exchange by exchange, against an in-memory initiator (tests/unit/ike)."""

from __future__ import annotations

import functools
import gc
import ipaddress
import os
import types

import pytest

from ikev2d.crypto.dh import EcpKeyExchange, ModpKeyExchange, X25519KeyExchange
from ikev2d.ike import events as ev
from ikev2d.ike.closed import CLOSED_SA_LIMIT, CLOSED_SA_LINGER
from ikev2d.ike.responder import Responder
from ikev2d.wire.cp import CpPayload
from ikev2d.wire.enums import CfgAttr, DhId, IdType, NotifyType, ProtocolId
from ikev2d.wire.message import decode_message
from ikev2d.wire.payloads import DeletePayload, IdrPayload, NotifyPayload
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload
from testbed.ike_initiator import Initiator, vip
from testbed.sans_io import PHONE, SERVER, Spis, connect, events, make_config, roundtrip

KEY_EXCHANGES = (ModpKeyExchange, EcpKeyExchange, X25519KeyExchange)


@pytest.fixture
def spis():
    return Spis()


@pytest.fixture
def responder(spis):
    return Responder(make_config(), rng=os.urandom, allocate_spi=spis)


def test_psk_client_connects_and_gets_a_tunnel(responder, spis):
    client = Initiator()
    inner = connect(responder, client)
    assert client.verify_responder_auth(inner)
    idr = next(p for p in inner if isinstance(p, IdrPayload))
    assert (idr.id_type, idr.data) == (IdType.FQDN, b"vpn.example.test")
    address = vip(inner)
    assert address in ipaddress.ip_network("10.10.10.0/24")
    cp = next(p for p in inner if isinstance(p, CpPayload))
    assert cp.values(CfgAttr.INTERNAL_IP4_DNS) == [ipaddress.ip_address("192.168.1.1")]
    tsi = next(p for p in inner if isinstance(p, TsiPayload)).selectors
    tsr = next(p for p in inner if isinstance(p, TsrPayload)).selectors
    assert [(str(t.start), str(t.end)) for t in tsi] == [(str(address), str(address))]
    assert [(str(t.start), str(t.end)) for t in tsr] == [("192.168.1.0", "192.168.1.255")]
    sa2 = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    assert sa2.protocol == ProtocolId.ESP and sa2.spi_int == spis.next

    established, installed = events(responder)
    assert isinstance(established, ev.IkeSaEstablished)
    assert established.identity == "phone@example.test"
    assert established.virtual_ip == str(address) and not established.nat
    assert isinstance(installed, ev.ChildSaInstalled)
    spec = installed.child
    keys = client.child_keys()
    # the kernel gets exactly the keys the client derived, in the right directions
    assert spec.encr_key_in == keys.encr_i and spec.integ_key_in == keys.integ_i
    assert spec.encr_key_out == keys.encr_r and spec.integ_key_out == keys.integ_r
    assert spec.inbound_spi == spis.next and spec.outbound_spi == client.child_spi
    assert (spec.encr_xfrm, spec.integ_xfrm, spec.icv_bits) == ("cbc(aes)", "hmac(sha256)", 128)
    assert spec.local_ts == ("192.168.1.0/24",) and spec.remote_ts == (f"{address}/32",)
    assert spec.encap is None
    assert spis.calls == [(SERVER[0], PHONE[0])]


def test_wrong_psk_is_refused_and_nothing_is_kept(responder):
    client = Initiator()
    (resp,) = roundtrip(responder, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(responder, client.auth_request(psk=b"not the right key at all!!"))
    _, inner = client.open(resp)
    assert [(type(p), p.notify_type) for p in inner] == [
        (NotifyPayload, NotifyType.AUTHENTICATION_FAILED)
    ]
    (failed,) = events(responder)
    assert isinstance(failed, ev.AuthenticationFailed) and "pre-shared key" in failed.reason
    assert list(responder.ike_sas()) == [] and responder._sas == {}
    assert len(responder.pool) == 0


@pytest.mark.parametrize(
    "proposal",
    [
        "aes256-sha256-modp2048",
        "aes256-sha256-ecp256",
        "aes256-sha256-curve25519",
    ],
)
def test_default_proposals_negotiate(responder, proposal):
    client = Initiator(ike=(proposal,))
    inner = connect(responder, client)
    assert client.verify_responder_auth(inner)


def test_aead_and_chacha_suites(spis):
    config = make_config(
        ike_proposal=["aes256gcm16-prfsha384-curve25519", "chacha20poly1305-prfsha256-curve25519"],
        esp_proposal=["aes256gcm16", "chacha20poly1305"],
    )
    for ike, esp, xfrm in [
        ("aes256gcm16-prfsha384-curve25519", "aes256gcm16", "rfc4106(gcm(aes))"),
        (
            "chacha20poly1305-prfsha256-curve25519",
            "chacha20poly1305",
            "rfc7539esp(chacha20,poly1305)",
        ),
    ]:
        r = Responder(config, rng=os.urandom, allocate_spi=spis)
        client = Initiator(ike=(ike,), esp=(esp,))
        inner = connect(r, client)
        assert client.verify_responder_auth(inner)
        spec = next(e for e in events(r) if isinstance(e, ev.ChildSaInstalled)).child
        assert spec.encr_xfrm == xfrm and spec.integ_xfrm is None and spec.icv_bits == 128
        assert spec.encr_key_in == client.child_keys().encr_i and len(spec.encr_key_in) == 36


def test_invalid_ke_names_the_preferred_group_and_retry_works(responder):
    # The client offers MODP4096 first (as Android does) and then MODP2048.
    client = Initiator(ike=("aes256-sha256-modp4096", "aes256-sha256-modp2048"))
    (resp,) = roundtrip(responder, client.init_request())
    msg = decode_message(resp)
    notify = msg.notify(NotifyType.INVALID_KE_PAYLOAD)
    assert notify is not None and notify.requested_group() == DhId.MODP2048
    assert msg.header.spi_r == bytes(8) and responder._sas == {}
    client.ke_group = notify.requested_group()
    inner_resp = roundtrip(responder, client.init_request())
    client.init_response(inner_resp[0])
    (resp,) = roundtrip(responder, client.auth_request())
    _, inner = client.open(resp)
    assert client.verify_responder_auth(inner)


def test_acceptable_ke_group_that_is_not_first_avoids_a_round_trip(responder):
    # curve25519 is acceptable (a configured proposal), so no INVALID_KE even though the
    # server prefers modp2048
    client = Initiator(
        ike=("aes256-sha256-modp2048", "aes256-sha256-curve25519"), ke_group=DhId.CURVE25519
    )
    (resp,) = roundtrip(responder, client.init_request())
    msg = client.init_response(resp)
    assert msg.get(SaPayload).proposals[0].number == 2


def test_no_proposal_chosen(responder):
    config_less = Initiator(ike=("aes128-sha1-modp1536",))
    (resp,) = roundtrip(responder, config_less.init_request())
    msg = decode_message(resp)
    assert [p.notify_type for p in msg.payloads] == [NotifyType.NO_PROPOSAL_CHOSEN]
    (failed,) = events(responder)
    assert isinstance(failed, ev.NegotiationFailed) and "aes128-sha1" in failed.reason


def test_retransmitted_requests_get_the_cached_response(responder):
    client = Initiator()
    first = client.init_request()
    (resp1,) = roundtrip(responder, first)
    assert roundtrip(responder, first, now=0.5) == []  # too soon: a replay, not a client
    (resp2,) = roundtrip(responder, first, now=1.0)
    assert resp1 == resp2 and len(responder._sas) == 1
    client.init_response(resp1)
    auth = client.auth_request()
    (a1,) = roundtrip(responder, auth)
    (a2,) = roundtrip(responder, auth)
    assert a1 == a2
    assert len([e for e in events(responder) if isinstance(e, ev.ChildSaInstalled)]) == 1


def _reachable(root) -> list:
    """Every object reachable from `root` through data (not code, classes or modules)."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
            types.MethodType, functools.partial)  # fmt: skip
    seen, todo, found = set(), [root], []
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        found.append(obj)
        todo.extend(gc.get_referents(obj))
    return found


def test_established_sa_keeps_no_handshake_secrets_but_still_answers_retransmits(responder):
    """Forward secrecy and memory: once IKE_AUTH is done, neither the DH private value, the
    IKE_SA_INIT messages, the nonces nor SK_pi/SK_pr stay with the IKE SA."""
    client = Initiator()
    (resp,) = roundtrip(responder, client.init_request())
    client.init_response(resp)
    auth = client.auth_request()
    (auth_response,) = roundtrip(responder, auth)
    (sa,) = responder.ike_sas()
    kept = _reachable(sa)
    spent = {
        "Ni": client.nonce_i, "Nr": client.nonce_r, "SK_pi": client.keys.sk_pi,
        "SK_pr": client.keys.sk_pr, "IKE_SA_INIT request": client.message1,
        "IKE_SA_INIT response": client.message2,
    }  # fmt: skip
    for name, value in spent.items():
        assert not any(isinstance(o, bytes) and o == value for o in kept), f"{name} kept"
    assert not any(isinstance(o, KEY_EXCHANGES) for o in kept)
    assert client.keys.sk_d in kept  # new Child SAs and the IKE rekey derive from it
    # the IKE_AUTH response stays for retransmissions (RFC 7296 §2.1)
    assert roundtrip(responder, auth) == [auth_response]


def test_message_ids_out_of_window_are_dropped(responder):
    client = Initiator()
    connect(responder, client)
    client.mid = 5  # skips 2..5
    assert roundtrip(responder, client.informational()) == []


def test_liveness_check_and_delete_child_and_ike(responder):
    client = Initiator()
    connect(responder, client)
    installed = next(e for e in events(responder) if isinstance(e, ev.ChildSaInstalled))
    # { } --> <-- { }
    (resp,) = roundtrip(responder, client.informational())
    _, inner = client.open(resp)
    assert inner == []
    # { D(ESP, client's SPI) } --> <-- { D(ESP, our SPI) }
    (resp,) = roundtrip(
        responder, client.informational([DeletePayload.child(ProtocolId.ESP, [client.child_spi])])
    )
    _, inner = client.open(resp)
    assert inner[0].spi_ints() == [installed.child.inbound_spi]
    (removed,) = events(responder)
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == installed.child
    # { D(IKE) } --> <-- { }
    (resp,) = roundtrip(responder, client.delete_ike(), now=5.0)
    assert client.open(resp)[1] == []
    (terminated,) = events(responder)
    assert isinstance(terminated, ev.IkeSaTerminated)
    assert list(responder.ike_sas()) == [] and len(responder.pool) == 0


def test_a_deleted_ike_sa_answers_the_retransmitted_delete_until_it_is_forgotten(responder):
    client = Initiator()
    connect(responder, client)
    delete = client.delete_ike()
    (answer,) = roundtrip(responder, delete, now=5.0)  # ... and the answer is lost
    assert [type(e) for e in events(responder)][-1] is ev.IkeSaTerminated
    assert roundtrip(responder, delete, now=6.0) == [answer]
    assert roundtrip(responder, client.informational(), now=7.0) == []  # nothing new
    assert list(responder.ike_sas()) == [] and len(responder.pool) == 0
    assert responder.get_timer() == 5.0 + CLOSED_SA_LINGER
    responder.handle_timer(5.0 + CLOSED_SA_LINGER)
    assert responder._sas == {} and responder.get_timer() is None
    assert roundtrip(responder, delete, now=40.0) == [] and events(responder) == []


def test_a_client_deleting_in_a_loop_leaves_at_most_the_limit_of_deleted_sas(responder):
    deletes = []
    for i in range(CLOSED_SA_LIMIT + 3):
        client = Initiator(address=("192.0.2.10", 1000 + i))
        connect(responder, client, src=client.address, now=float(i))
        delete = client.delete_ike()
        (answer,) = roundtrip(responder, delete, src=client.address, now=float(i))
        deletes.append((client.address, delete, answer))
    assert len(responder._sas) == CLOSED_SA_LIMIT and list(responder.ike_sas()) == []
    # the oldest were forgotten first; the newest still answer
    for address, delete, _ in deletes[:3]:
        assert roundtrip(responder, delete, src=address, now=70.0) == []
    address, delete, answer = deletes[-1]
    assert roundtrip(responder, delete, src=address, now=70.0) == [answer]


def test_two_clients_get_different_addresses_and_one_identity_keeps_its_address(responder):
    a = Initiator(identity=(IdType.FQDN, b"a.example.test"), address=("192.0.2.10", 500))
    b = Initiator(identity=(IdType.FQDN, b"b.example.test"), address=("192.0.2.11", 500))
    va = vip(connect(responder, a, src=a.address))
    vb = vip(connect(responder, b, src=b.address))
    assert va != vb
    roundtrip(responder, a.delete_ike(), src=a.address)
    again = Initiator(identity=(IdType.FQDN, b"a.example.test"), address=("192.0.2.12", 500))
    assert vip(connect(responder, again, src=again.address)) == va


def test_disconnect_sends_delete_and_ends_everything(responder):
    client = Initiator()
    connect(responder, client)
    events(responder)
    (sa,) = responder.find("phone@example.test")
    responder.disconnect(sa, now=10.0)
    kinds = [type(e) for e in events(responder)]
    assert kinds == [ev.ChildSaRemoved, ev.IkeSaTerminated]
    ((data, local, remote),) = responder.datagrams_to_send()
    assert (local, remote) == (SERVER, PHONE)
    header, inner = client.open(data)
    assert not header.response and isinstance(inner[0], DeletePayload)
    assert inner[0].protocol == ProtocolId.IKE
    # unanswered: retransmitted with back-off, then forgotten
    assert responder.get_timer() == 12.0
    responder.handle_timer(12.0)
    assert [d for d, _, _ in responder.datagrams_to_send()] == [data]
    # 5 sends in all (retransmit_tries), the waits doubling from retransmit_timeout (2 s)
    for now in (16.0, 24.0, 40.0):
        assert responder.get_timer() == now
        responder.handle_timer(now)
        assert len(responder.datagrams_to_send()) == 1
    assert responder.get_timer() == 72.0
    responder.handle_timer(72.0)
    assert responder.datagrams_to_send() == []
    assert responder._sas == {} and responder.get_timer() is None


def test_disconnect_answered(responder):
    client = Initiator()
    connect(responder, client)
    (sa,) = responder.find("phone@example.test")
    responder.disconnect(sa, now=1.0)
    ((data, _, _),) = responder.datagrams_to_send()
    header, _ = client.open(data)
    responder.receive_datagram(client.ack(header), PHONE, SERVER, 1.5)
    assert responder._sas == {} and responder.get_timer() is None


def test_half_open_sa_expires(responder):
    client = Initiator()
    roundtrip(responder, client.init_request(), now=100.0)
    assert responder.get_timer() == 130.0
    responder.handle_timer(130.0)
    assert responder._sas == {}


def test_port_change_between_init_and_auth_and_nat(responder):
    client = Initiator(nat=True)
    (resp,) = roundtrip(responder, client.init_request(), src=("203.0.113.99", 4711))
    client.init_response(resp)
    floated, server4500 = ("203.0.113.99", 4999), ("198.51.100.1", 4500)
    (resp,) = roundtrip(responder, client.auth_request(), src=floated, dst=server4500)
    _, inner = client.open(resp)
    assert client.verify_responder_auth(inner)
    established, installed = events(responder)
    assert established.nat and established.remote == floated
    assert installed.child.encap == (4500, 4999)
    assert installed.child.remote == floated and installed.child.local == server4500


def test_nat_detected_from_hashes():
    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis())
    client = Initiator(nat=True)
    (_resp,) = roundtrip(r, client.init_request(), src=("203.0.113.5", 1024))
    sa = next(iter(r._sas.values()))
    assert sa.nat_remote and not sa.nat_local


def test_missing_cp_request_fails_the_child_but_not_the_ike_sa(responder):
    client = Initiator()
    (resp,) = roundtrip(responder, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(responder, client.auth_request(cp=False))
    _, inner = client.open(resp)
    assert client.verify_responder_auth(inner)
    assert NotifyType.FAILED_CP_REQUIRED in [getattr(p, "notify_type", None) for p in inner]
    assert not any(isinstance(p, SaPayload) for p in inner)
    kinds = [type(e) for e in events(responder)]
    assert kinds == [ev.IkeSaEstablished, ev.NegotiationFailed]


def test_remote_id_mismatch_is_an_authentication_failure(spis):
    r = Responder(
        make_config(remote_id_type="fqdn", remote_id="laptop.example.test"),
        rng=os.urandom,
        allocate_spi=spis,
    )
    client = Initiator(identity=(IdType.FQDN, b"phone.example.test"))
    (resp,) = roundtrip(r, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request())
    _, inner = client.open(resp)
    assert [p.notify_type for p in inner] == [NotifyType.AUTHENTICATION_FAILED]


def test_tampered_or_garbage_datagrams_are_dropped(responder):
    client = Initiator()
    (resp,) = roundtrip(responder, client.init_request())
    client.init_response(resp)
    auth = bytearray(client.auth_request())
    auth[-1] ^= 1
    assert roundtrip(responder, bytes(auth)) == []
    for junk in (b"", b"\x00" * 27, os.urandom(28), os.urandom(500)):
        assert roundtrip(responder, junk) == []
    # the untampered request still works afterwards
    (resp,) = roundtrip(responder, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


def test_kernel_refusing_an_spi_refuses_only_the_child_sa():
    def no_spi(local, remote):
        raise OSError("ENOMEM")

    r = Responder(make_config(), rng=os.urandom, allocate_spi=no_spi)
    client = Initiator()
    inner = connect(r, client)
    assert client.verify_responder_auth(inner)
    assert NotifyType.TEMPORARY_FAILURE in [getattr(p, "notify_type", None) for p in inner]
    assert len(r.pool) == 0  # the lease taken for the failed Child SA went back
    kinds = [type(e) for e in events(r)]
    assert kinds == [ev.IkeSaEstablished, ev.NegotiationFailed]
