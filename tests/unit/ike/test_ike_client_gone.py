"""A client that went away without a Delete (issue 14): it comes back with INITIAL_CONTACT
(Windows sends it; strongSwan after a restart), or it never comes back and DPD ends it."""

from __future__ import annotations

import os

import pytest

from ikev2d.ike import events as ev
from ikev2d.ike.responder import Responder
from ikev2d.ike.sa import Client
from ikev2d.ike.state import SaState
from ikev2d.wire.enums import IdType, NotifyType
from ikev2d.wire.payloads import NotifyPayload
from testbed.ike_initiator import Initiator, RekeyingInitiator, vip
from testbed.sans_io import PHONE, Spis, events, make_config, roundtrip

INITIAL_CONTACT = NotifyPayload.of(NotifyType.INITIAL_CONTACT)
OTHER_PORT = (PHONE[0], 4500)  # a restarted client comes from another port (or address)


def attach(r: Responder, client: Initiator, src=PHONE, extra=(), now=0.0):
    # IKE_SA_INIT -->  IKE_AUTH { IDi, AUTH, CP, SAi2, TSi, TSr, [N(INITIAL_CONTACT)] } -->
    (resp,) = roundtrip(r, client.init_request(), src=src, now=now)
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request(extra=extra), src=src, now=now)
    return client.open(resp)[1]


def test_initial_contact_replaces_the_old_sas_and_lease_at_once():
    r = Responder(make_config(dpd_delay=0), rng=os.urandom, allocate_spi=Spis())
    before = vip(attach(r, Initiator()))
    neighbour = vip(attach(r, Initiator(identity=(IdType.RFC822_ADDR, b"other@example.test"))))
    installed = [e.child for e in events(r) if isinstance(e, ev.ChildSaInstalled)]
    (old_sa,) = [sa for sa in r.ike_sas() if sa.client.virtual_ip == str(before)]
    # the phone crashed and reconnects: same identity, new SPIs, INITIAL_CONTACT
    after = vip(attach(r, Initiator(), src=OTHER_PORT, extra=(INITIAL_CONTACT,), now=5.0))
    removed, terminated, established, new_child = events(r)
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == installed[0]
    assert isinstance(terminated, ev.IkeSaTerminated) and terminated.ike_sa == old_sa.handle
    assert "INITIAL_CONTACT" in terminated.reason
    assert isinstance(established, ev.IkeSaEstablished) and established.remote == OTHER_PORT
    assert isinstance(new_child, ev.ChildSaInstalled)
    assert after == before  # its own address, freed before the new lease
    leased = sorted(sa.client.virtual_ip for sa in r.ike_sas())
    assert leased == sorted([str(before), str(neighbour)])
    assert len(r.pool) == 2 and old_sa.our_spi not in r._sas  # nothing kept of it
    assert r.datagrams_to_send() == []  # no Delete to a client that forgot the SA


def test_without_initial_contact_the_old_sa_stays_until_dpd():
    r = Responder(make_config(dpd_delay=0), rng=os.urandom, allocate_spi=Spis())
    before = vip(attach(r, Initiator()))
    after = vip(attach(r, Initiator(), src=OTHER_PORT))  # a second device of the same identity
    assert after != before and len(list(r.ike_sas())) == 2
    assert not any(isinstance(e, ev.IkeSaTerminated) for e in events(r))


@pytest.mark.parametrize(("dpd", "timeout", "tries"), [(10, 1, 3), (30, 2, 2)])
def test_dpd_frees_address_and_kernel_state_after_delay_and_retransmissions(dpd, timeout, tries):
    """Gone without Delete: the first liveness check is due `dpd_delay` after the last
    message; it is resent after timeout, 2*timeout ... and after `tries` sends unanswered the
    SA, its Child SAs (kernel state) and its lease end."""
    server = {"dpd_delay": dpd, "retransmit_timeout": timeout, "retransmit_tries": tries}
    r = Responder(make_config(**server), rng=os.urandom, allocate_spi=Spis())
    attach(r, Initiator())
    child = next(e.child for e in events(r) if isinstance(e, ev.ChildSaInstalled))
    gone_at = dpd + timeout * (2**tries - 1)
    sends = [dpd + timeout * (2**n - 1) for n in range(tries)]
    assert r.get_timer() == dpd
    for t in sends:  # the check and its resends, each at its moment
        r.handle_timer(t)
        assert len(r.datagrams_to_send()) == 1 and len(r.pool) == 1, t
    r.handle_timer(gone_at - 0.01)
    assert len(list(r.ike_sas())) == 1 and len(r.pool) == 1 and events(r) == []
    r.handle_timer(gone_at)
    removed, terminated = events(r)
    assert isinstance(removed, ev.ChildSaRemoved) and removed.child == child
    assert isinstance(terminated, ev.IkeSaTerminated) and "stopped answering" in terminated.reason
    assert list(r.ike_sas()) == [] and len(r.pool) == 0 and r.get_timer() is None
    assert r.datagrams_to_send() == []


def test_initial_contact_after_an_ike_rekey_replaces_the_rekeyed_sa():
    """The SA a rekey made (and the old one waiting for its Delete) are the client's sessions
    too: a reconnect with INITIAL_CONTACT ends both, and the client gets its address back."""
    r = Responder(make_config(dpd_delay=0), rng=os.urandom, allocate_spi=Spis())
    client = RekeyingInitiator()
    before = vip(attach(r, client))
    (old_sa,) = r.ike_sas()
    (resp,) = roundtrip(r, client.rekey_ike_request())
    client.switch_to_rekeyed(client.open(resp)[1])
    (new_sa,) = r.ike_sas()
    assert new_sa is not old_sa and old_sa.state == SaState.REKEYED
    events(r)
    after = vip(attach(r, Initiator(), src=OTHER_PORT, extra=(INITIAL_CONTACT,), now=5.0))
    terminated = [e.ike_sa for e in events(r) if isinstance(e, ev.IkeSaTerminated)]
    assert terminated == [new_sa.handle]  # the rekeyed one was no longer announced
    assert old_sa.state == new_sa.state == SaState.DEAD
    assert after == before and len(r.pool) == 1 and len(list(r.ike_sas())) == 1


def test_initial_contact_looks_at_its_own_clients_sessions_only(monkeypatch):
    """A connect with INITIAL_CONTACT (strongSwan sends it on every new connection) costs the
    same with 40 other clients connected as with 4: no look at every client's SA (issue 17,
    ~1 ms per handshake at 1000 clients)."""
    r = Responder(make_config(dpd_delay=0, pool="10.10.0.0/16"), rng=os.urandom,
                  allocate_spi=Spis())  # fmt: skip
    looked_up = []
    lease_key = Client.lease_key

    def counted(client: Client) -> tuple[str, str]:
        looked_up.append(client)
        return lease_key.fget(client)

    monkeypatch.setattr(Client, "lease_key", property(counted))

    def lookups_of_a_connect(k: int) -> int:
        looked_up.clear()
        who = (IdType.RFC822_ADDR, f"lt{k}@example.test".encode())
        attach(r, Initiator(identity=who), src=(f"10.0.0.{k}", 500), extra=(INITIAL_CONTACT,))
        return len(looked_up)

    counts = {k: lookups_of_a_connect(k) for k in range(1, 41)}
    assert len(list(r.ike_sas())) == 40 and counts[5] == counts[40]


def test_sessions_of_clients_that_left_are_forgotten():
    r = Responder(make_config(dpd_delay=0), rng=os.urandom, allocate_spi=Spis())
    clients = [Initiator(identity=(IdType.RFC822_ADDR, f"u{k}@example.test".encode()))
               for k in range(3)]  # fmt: skip
    for k, client in enumerate(clients):
        attach(r, client, src=(f"10.0.0.{k + 1}", 500))
    for k, client in enumerate(clients):
        roundtrip(r, client.delete_ike(), src=(f"10.0.0.{k + 1}", 500))
        for sa in [sa for sa in r._sas.values() if sa.closed_until is not None]:
            r.handle_timer(sa.closed_until)
    assert list(r.ike_sas()) == [] and r._sas == {} and len(r._sessions) == 0
