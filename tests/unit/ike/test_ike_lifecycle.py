"""Rekeying, liveness, MOBIKE, cookies, limits and reload, exchange by exchange."""

from __future__ import annotations

import os

import pytest

from ikev2d.crypto.dh import new_key_exchange
from ikev2d.ike import events as ev
from ikev2d.ike.responder import Responder
from ikev2d.ike.sa import SaState
from ikev2d.wire.enums import DhId, ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.message import Header, Message, decode_message, encode_message
from ikev2d.wire.payloads import DeletePayload, KePayload, NoncePayload, NotifyPayload
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload
from testbed.ike_initiator import RekeyingInitiator, vip
from testbed.sans_io import PHONE, SERVER, Spis, connect, events, make_config, roundtrip


def setup(**server):
    r = Responder(make_config(**server), rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator()
    inner = connect(r, client)
    evs = events(r)
    child = next(e for e in evs if isinstance(e, ev.ChildSaInstalled)).child
    return r, client, inner, child


def notify_types(inner):
    return [p.notify_type for p in inner if isinstance(p, NotifyPayload)]


# -- the client rekeys -----------------------------------------------------------------------
@pytest.mark.parametrize("ke_group", [None, DhId.MODP2048])
def test_client_rekeys_a_child_make_before_break(ke_group):
    r, client, _, old = setup()
    # CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } -->
    (resp,) = roundtrip(r, client.rekey_child_request(client.child_spi, ke_group))
    _, inner = client.open(resp)
    assert not notify_types(inner)
    (installed,) = events(r)
    assert isinstance(installed, ev.ChildSaInstalled) and installed.replaces == old.inbound_spi
    new = installed.child
    keys = client.rekey_child_keys(inner)
    assert new.encr_key_in == keys.encr_i and new.integ_key_out == keys.integ_r
    assert new.outbound_spi == client.new_child_spi and new.inbound_spi != old.inbound_spi
    assert new.remote_ts == old.remote_ts and new.local_ts == old.local_ts
    assert (ke_group is not None) == any(isinstance(p, KePayload) for p in inner)
    # the old Child SA stays until the client deletes it
    (sa,) = r.ike_sas()
    assert len(sa.children) == 2
    (resp,) = roundtrip(
        r, client.informational([DeletePayload.child(ProtocolId.ESP, [client.child_spi])])
    )
    assert client.open(resp)[1][0].spi_ints() == [old.inbound_spi]
    (removed,) = events(r)
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == old
    assert [c.spec for c in sa.children] == [new]


def test_rekey_of_an_unknown_child_is_child_sa_not_found():
    r, client, _, _ = setup()
    (resp,) = roundtrip(r, client.rekey_child_request(0x12345678))
    assert notify_types(client.open(resp)[1]) == [NotifyType.CHILD_SA_NOT_FOUND]
    assert events(r) == []


def test_client_rekeys_the_ike_sa():
    r, client, _, child = setup()
    (old_sa,) = r.ike_sas()
    # CREATE_CHILD_SA { SA(IKE), Ni, KEi } -->
    (resp,) = roundtrip(r, client.rekey_ike_request())
    _, inner = client.open(resp)
    (rekeyed,) = events(r)
    assert isinstance(rekeyed, ev.IkeSaRekeyed) and rekeyed.old == old_sa.handle
    old_client = RekeyingInitiator.__new__(RekeyingInitiator)
    old_client.__dict__.update(client.__dict__)
    client.switch_to_rekeyed(inner)
    # the new IKE SA answers, and holds the client and its Child SA
    (resp,) = roundtrip(r, client.request(ExchangeType.INFORMATIONAL, []))
    assert client.open(resp)[1] == []
    (new_sa,) = r.ike_sas()
    assert new_sa.handle == rekeyed.new and new_sa.client.virtual_ip is not None
    assert [c.spec for c in new_sa.children] == [child]
    # Delete of the old IKE SA ends it quietly: no Child SA or lease goes with it
    (resp,) = roundtrip(r, old_client.delete_ike())
    assert events(r) == []
    assert old_sa.closed_until is not None and len(r.pool) == 1
    r.handle_timer(old_sa.closed_until)  # kept a while for a retransmitted Delete only
    assert old_sa.state == SaState.DEAD and events(r) == [] and len(r.pool) == 1


# -- we rekey -----------------------------------------------------------------------------------
def test_server_rekeys_a_child_when_its_lifetime_ends():
    r, client, _, old = setup(child_lifetime=300)
    (sa,) = r.ike_sas()
    due = sa.children[0].rekey_at
    assert 270 <= due <= 300  # lifetime minus up to 10 % jitter
    r.handle_timer(due)
    ((request, _, _),) = r.datagrams_to_send()
    header, inner = client.open(request)
    assert header.exchange == ExchangeType.CREATE_CHILD_SA and not header.response
    rekey = next(p for p in inner if isinstance(p, NotifyPayload))
    assert rekey.notify_type == NotifyType.REKEY_SA and rekey.spi_int == old.inbound_spi
    # <-- our answer as the client: { SA, Nr, TSi, TSr }
    offered = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    client_spi = 0x0B0B0B0B
    nonce_r = os.urandom(32)
    reply = [
        client.child_proposal(client_spi),
        NoncePayload(nonce_r),
        next(p for p in inner if isinstance(p, TsiPayload)),
        next(p for p in inner if isinstance(p, TsrPayload)),
    ]
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, due + 0.1)
    installed, removed = events(r)
    assert isinstance(installed, ev.ChildSaInstalled) and installed.replaces == old.inbound_spi
    assert installed.child.inbound_spi == offered.spi_int
    assert installed.child.outbound_spi == client_spi
    # we started the exchange: the first KEYMAT keys protect what we send
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    from ikev2d.crypto.keys import derive_child_keys

    c = sa.children[0].proposal
    keys = derive_child_keys(sa.prf, sa.keys.sk_d, c.encr, c.integ, nonce_i, nonce_r)
    assert installed.child.encr_key_out == keys.encr_i
    assert installed.child.encr_key_in == keys.encr_r
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == old
    ((delete, _, _),) = r.datagrams_to_send()
    _, inner = client.open(delete)
    assert inner[0].spi_ints() == [old.inbound_spi]


def test_server_rekeys_the_ike_sa_and_deletes_the_old_one():
    r, client, _, child = setup(ike_lifetime=300)
    (sa,) = r.ike_sas()
    r.handle_timer(sa.rekey_at)
    ((request, _, _),) = r.datagrams_to_send()
    header, inner = client.open(request)
    assert header.exchange == ExchangeType.CREATE_CHILD_SA
    offered = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    assert offered.protocol == ProtocolId.IKE and len(offered.spi) == 8
    ke_i = next(p for p in inner if isinstance(p, KePayload))
    nonce_i = next(p for p in inner if isinstance(p, NoncePayload)).data
    kex = new_key_exchange(ke_i.group)
    new_spi_r = os.urandom(8)
    from ikev2d.wire.sa import Proposal

    reply_sa = SaPayload((Proposal(1, ProtocolId.IKE, new_spi_r, offered.transforms),))
    nonce_r = os.urandom(32)
    reply = [reply_sa, NoncePayload(nonce_r), KePayload(ke_i.group, kex.public_bytes())]
    old_client = RekeyingInitiator.__new__(RekeyingInitiator)
    old_client.__dict__.update(client.__dict__)
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, sa.rekey_at + 1)
    (rekeyed,) = events(r)
    assert isinstance(rekeyed, ev.IkeSaRekeyed)
    # Delete of the old IKE SA goes out in the old SA
    ((delete, _, _),) = r.datagrams_to_send()
    _, inner = old_client.open(delete)
    assert inner[0].protocol == ProtocolId.IKE
    r.receive_datagram(old_client.answer(delete), PHONE, SERVER, sa.rekey_at + 2)
    assert sa.state == SaState.DEAD and events(r) == []
    # the new SA: we are its original initiator, keys from the old SK_d (RFC 7296 §2.18)
    client.switch_to_rekeyed(
        [
            offered and SaPayload((Proposal(1, ProtocolId.IKE, offered.spi, ()),)),
            NoncePayload(nonce_i),
            ke_i,
        ],
        we_initiated=False,
        peer_nonce=nonce_r,
        peer_spi=new_spi_r,
        kex=kex,
    )
    (resp,) = roundtrip(r, client.request(ExchangeType.INFORMATIONAL, []))
    assert client.open(resp)[1] == []
    (new_sa,) = r.ike_sas()
    assert new_sa.initiator and [c.spec for c in new_sa.children] == [child]


def test_simultaneous_child_rekey_keeps_exactly_one_new_child():
    r, client, _, old = setup(child_lifetime=300)
    (sa,) = r.ike_sas()
    r.handle_timer(sa.children[0].rekey_at)
    ((ours, _, _),) = r.datagrams_to_send()
    # the client rekeys the same Child SA before answering ours
    (resp,) = roundtrip(r, client.rekey_child_request(client.child_spi))
    _, their_inner = client.open(resp)
    (theirs_installed,) = events(r)
    _header, inner = client.open(ours)
    reply = [
        client.child_proposal(0x0C0C0C0C),
        NoncePayload(os.urandom(32)),
        next(p for p in inner if isinstance(p, TsiPayload)),
        next(p for p in inner if isinstance(p, TsrPayload)),
    ]
    r.receive_datagram(client.answer(ours, reply), PHONE, SERVER, 1000.0)
    installed, removed = events(r)
    ours_nonce = next(p for p in inner if isinstance(p, NoncePayload)).data
    theirs_nonces = (
        client.rekey_nonce,
        next(p for p in their_inner if isinstance(p, NoncePayload)).data,
    )
    ours_lost = min(ours_nonce, reply[1].data) < min(theirs_nonces)
    assert removed.child == (installed.child if ours_lost else old)
    ((delete, _, _),) = r.datagrams_to_send()
    deleted = client.open(delete)[1][0].spi_ints()
    assert deleted == [removed.child.inbound_spi]
    kept = {c.spec.inbound_spi for c in sa.children if not c.replaced}
    assert theirs_installed.child.inbound_spi in {c.spec.inbound_spi for c in sa.children}
    assert len(kept) >= 1


# -- liveness -----------------------------------------------------------------------------------
def test_dead_client_is_detected_and_everything_is_freed():
    r, client, _, child = setup(dpd_delay=10, retransmit_timeout=1, retransmit_tries=3)
    assert r.get_timer() == 10.0
    r.handle_timer(10.0)
    ((dpd, _, _),) = r.datagrams_to_send()
    header, inner = client.open(dpd)
    assert header.exchange == ExchangeType.INFORMATIONAL and inner == []
    for t in (11.0, 13.0):
        r.handle_timer(t)
        assert [d for d, _, _ in r.datagrams_to_send()] == [dpd]
    r.handle_timer(17.0)
    removed, terminated = events(r)
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == child
    assert isinstance(terminated, ev.IkeSaTerminated) and "answer" in terminated.reason
    assert r._sas == {} and len(r.pool) == 0 and r.get_timer() is None


def test_answered_liveness_check_and_esp_traffic_keep_the_sa():
    r, client, _, _ = setup(dpd_delay=10)
    r.handle_timer(10.0)
    ((dpd, _, _),) = r.datagrams_to_send()
    r.receive_datagram(client.answer(dpd), PHONE, SERVER, 10.5)
    assert r.get_timer() == 20.5
    (sa,) = r.ike_sas()
    r.note_traffic(sa.handle, 19.0)
    assert r.get_timer() == 29.0
    assert events(r) == [] and len(list(r.ike_sas())) == 1


# -- MOBIKE and NAT -----------------------------------------------------------------------------
def test_mobike_update_sa_addresses_moves_the_tunnel():
    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator()
    (resp,) = roundtrip(r, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(
        r, client.auth_request(extra=[NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED)])
    )
    _, inner = client.open(resp)
    assert NotifyType.MOBIKE_SUPPORTED in notify_types(inner)
    child = next(e for e in events(r) if isinstance(e, ev.ChildSaInstalled)).child
    from ikev2d.ike.nat import nat_detection_hash

    new_src, new_dst = ("203.0.113.50", 4500), ("198.51.100.1", 4500)
    hashes = [
        NotifyPayload.of(NotifyType.UPDATE_SA_ADDRESSES),
        NotifyPayload.of(
            NotifyType.NAT_DETECTION_SOURCE_IP,
            nat_detection_hash(client.spi_i, client.spi_r, ("10.0.0.7", 4500)),
        ),
        NotifyPayload.of(
            NotifyType.NAT_DETECTION_DESTINATION_IP,
            nat_detection_hash(client.spi_i, client.spi_r, new_dst),
        ),
        NotifyPayload.of(NotifyType.COOKIE2, b"0123456789abcdef"),
    ]
    (resp,) = roundtrip(r, client.informational(hashes), src=new_src, dst=new_dst)
    _, inner = client.open(resp)
    assert notify_types(inner) == [
        NotifyType.NAT_DETECTION_SOURCE_IP,
        NotifyType.NAT_DETECTION_DESTINATION_IP,
        NotifyType.COOKIE2,
    ]
    assert inner[2].data == b"0123456789abcdef"
    (updated,) = events(r)
    assert isinstance(updated, ev.ChildSaUpdated) and updated.old == child
    assert updated.new.remote == new_src and updated.new.local == new_dst
    assert updated.new.encap == (4500, 4500)  # the client is now behind a NAT
    assert updated.new.encr_key_in == child.encr_key_in
    (sa,) = r.ike_sas()
    assert sa.remote == new_src and sa.nat_remote


def test_nat_remapping_without_mobike_follows_the_client():
    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator(nat=True)
    public = ("203.0.113.99", 4500)
    (resp,) = roundtrip(r, client.init_request(), src=("203.0.113.99", 500))
    client.init_response(resp)
    roundtrip(r, client.auth_request(), src=public, dst=("198.51.100.1", 4500))
    events(r)
    remapped = ("203.0.113.99", 31337)
    (resp,) = roundtrip(r, client.informational(), src=remapped, dst=("198.51.100.1", 4500))
    (updated,) = events(r)
    assert updated.new.remote == remapped and updated.new.encap == (4500, 31337)


# -- denial of service --------------------------------------------------------------------------
def with_cookie(message: bytes, cookie: bytes) -> bytes:
    """IKE_SA_INIT again with N(COOKIE) first (RFC 7296 §2.6)."""
    msg = decode_message(message)
    return encode_message(Message(msg.header, (NotifyPayload.cookie(cookie), *msg.payloads)))


def test_cookie_threshold_zero_demands_a_cookie_and_the_client_still_connects():
    r = Responder(make_config(cookie_threshold=0), rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator()
    first = client.init_request()
    (resp,) = roundtrip(r, first)
    cookie = decode_message(resp).notify(NotifyType.COOKIE)
    assert cookie is not None and r._sas == {}
    (resp,) = roundtrip(r, with_cookie(first, b"\x00" + os.urandom(16)))
    assert decode_message(resp).notify(NotifyType.COOKIE) is not None and r._sas == {}
    # the same SPI and nonce with the right cookie get through
    client.message1 = with_cookie(first, cookie.data)
    (resp,) = roundtrip(r, client.message1)
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


def test_half_open_limits_per_address_and_in_all():
    r = Responder(
        make_config(max_half_open_per_ip=2, max_half_open=5, cookie_threshold=1000,
                    cookie_threshold_per_ip=1000),
        rng=os.urandom,
        allocate_spi=Spis(),
    )  # fmt: skip
    for _ in range(3):
        roundtrip(r, RekeyingInitiator().init_request(), src=("192.0.2.20", 500))
    assert len(r._sas) == 2
    for i in range(10):
        roundtrip(r, RekeyingInitiator().init_request(), src=(f"192.0.2.{30 + i}", 500))
    assert len(r._sas) == 5
    r.handle_timer(31.0)  # half-open SAs expire
    assert r._sas == {}
    client = RekeyingInitiator()
    connect(r, client)
    assert len(list(r.ike_sas())) == 1


def test_a_flood_stays_bounded_and_a_real_client_gets_through():
    r = Responder(
        make_config(cookie_threshold=10, max_half_open=50), rng=os.urandom, allocate_spi=Spis()
    )
    template = decode_message(RekeyingInitiator().init_request())
    for i in range(3000):  # bounded, and only to this in-memory responder
        header = Header(os.urandom(8), bytes(8), ExchangeType.IKE_SA_INIT, 0, initiator=True)
        data = encode_message(Message(header, template.payloads))
        r.receive_datagram(data, (f"10.{i >> 8 & 255}.{i & 255}.1", 500), SERVER, i / 1000)
    r.datagrams_to_send()
    assert len(r._sas) <= 50 and r._gate.half_open.total <= 50
    client = RekeyingInitiator()
    (resp,) = roundtrip(r, client.init_request(), now=3.0)
    cookie = decode_message(resp).notify(NotifyType.COOKIE)
    client.message1 = with_cookie(client.message1, cookie.data)
    (resp,) = roundtrip(r, client.message1, now=3.0)
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request(), now=3.0)
    assert client.verify_responder_auth(client.open(resp)[1])


def test_repeated_authentication_failures_slow_the_address_down():
    r = Responder(make_config(), rng=os.urandom, allocate_spi=Spis())
    for i in range(5):
        client = RekeyingInitiator()
        (resp,) = roundtrip(r, client.init_request(), now=float(i))
        client.init_response(resp)
        roundtrip(r, client.auth_request(psk=b"a wrong key that is long enough"), now=float(i))
    assert roundtrip(r, RekeyingInitiator().init_request(), now=10.0) == []
    assert (
        len(roundtrip(r, RekeyingInitiator().init_request(), src=("192.0.2.99", 500), now=10.0))
        == 1
    )
    assert len(roundtrip(r, RekeyingInitiator().init_request(), now=70.0)) == 1


# -- reload and kernel events -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "dropped"),
    [
        ({}, False),
        ({"dpd_delay": 60, "child_lifetime": 7200}, False),
        ({"psk": "another pre-shared key, 29 ch"}, True),
        ({"esp_proposal": ["aes256gcm16"]}, True),
        ({"local_subnet": ["192.168.2.0/24"]}, True),
        ({"remote_id_type": "fqdn", "remote_id": "other.example.test"}, True),
        ({"post_quantum": "off"}, False),
        ({"post_quantum": "required"}, True),  # this client ran no ML-KEM
    ],
)
def test_reload_keeps_unaffected_tunnels(change, dropped):
    r, _client, inner, _child = setup()
    address = vip(inner)
    gone = r.update_config(make_config(**change), now=5.0)
    assert bool(gone) == dropped
    if dropped:
        kinds = [type(e) for e in events(r)]
        assert kinds == [ev.ChildSaRemoved, ev.IkeSaTerminated]
        assert len(r.datagrams_to_send()) == 1  # the Delete
    else:
        assert events(r) == [] and r.pool.owner(address) == ("psk", "phone@example.test")


def test_kernel_soft_expire_rekeys_and_hard_expire_removes():
    r, client, _, child = setup()
    r.handle_kernel_expire(child.inbound_spi, hard=False, now=50.0)
    ((request, _, _),) = r.datagrams_to_send()
    assert client.open(request)[0].exchange == ExchangeType.CREATE_CHILD_SA
    r.handle_kernel_expire(child.outbound_spi, hard=True, now=60.0)
    kinds = [type(e) for e in events(r)]
    assert kinds == [ev.ChildSaRemoved, ev.IkeSaTerminated]


def test_a_child_rekey_due_with_our_ike_rekey_is_redone_on_the_new_ike_sa():
    r, client, _, child = setup(ike_lifetime=300, child_lifetime=300)
    (sa,) = r.ike_sas()
    sa.children[0].rekey_at = sa.rekey_at  # both due at once: the Child rekey queues
    r.handle_timer(sa.rekey_at)
    ((request, _, _),) = r.datagrams_to_send()  # only the IKE rekey: one request in flight
    _, inner = client.open(request)
    offered = next(p for p in inner if isinstance(p, SaPayload)).proposals[0]
    ke_i = next(p for p in inner if isinstance(p, KePayload))
    kex = new_key_exchange(ke_i.group)
    from ikev2d.wire.sa import Proposal

    reply = [
        SaPayload((Proposal(1, ProtocolId.IKE, os.urandom(8), offered.transforms),)),
        NoncePayload(os.urandom(32)),
        KePayload(ke_i.group, kex.public_bytes()),
    ]
    r.receive_datagram(client.answer(request, reply), PHONE, SERVER, sa.rekey_at + 1)
    (new_sa,) = r.ike_sas()
    assert new_sa is not sa and [c.spec for c in new_sa.children] == [child]
    r.handle_timer(sa.rekey_at + 1)
    sent = r.datagrams_to_send()
    # the Delete in the old SA, and the Child rekey again, now in the new SA
    headers = [decode_message(d).header for d, _, _ in sent]
    child_rekeys = [h for h in headers if h.exchange == ExchangeType.CREATE_CHILD_SA]
    assert len(child_rekeys) == 1 and child_rekeys[0].spi_i == new_sa.spi_i
    assert new_sa.children[0].rekeying
