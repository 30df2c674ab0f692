"""Item 4: reload ignored users.

Disabling or deleting a user, changing their password, or changing or removing the PSK kept
the affected sessions up. Reload ends exactly the sessions whose credentials no longer
validate, and keeps all others.
"""

from __future__ import annotations

import pytest
from attack_support import PSK, USERS, config, connect_eap, connect_psk, events, responder

from ikev2d.ike import events as ev
from ikev2d.wire.enums import IdType

ALICE, BOB = USERS
CAROL = {"name": "carol", "password": "new here"}


def _eap_pair():
    r = responder(auth_mode="eap")
    connect_eap(r, "alice", "correct horse")
    connect_eap(r, "bob", "hunter22", src=("192.0.2.11", 500))
    events(r)
    return r


@pytest.mark.parametrize(
    ("users", "ended"),
    [
        ((ALICE, BOB, CAROL), []),  # a new user: nobody is affected
        ((ALICE, {**BOB, "ip": "10.10.10.30"}), ["bob"]),  # bob's address moves
        ((ALICE, {**BOB, "enabled": False}), ["bob"]),
        ((ALICE,), ["bob"]),  # bob deleted
        ((ALICE, {**BOB, "password": "changed!"}), ["bob"]),
        (({**ALICE, "password": "changed!"}, {**BOB, "enabled": False}), ["alice", "bob"]),
    ],
)
def test_item04_reload_ends_exactly_the_eap_sessions_that_no_longer_validate(users, ended):
    r = _eap_pair()
    dropped = r.update_config(config(users, auth_mode="eap"), now=5.0)
    assert sorted(sa.client.user for sa in dropped) == ended
    assert sorted(sa.client.user for sa in r.ike_sas()) == sorted({"alice", "bob"} - set(ended))
    terminated = [e for e in events(r) if isinstance(e, ev.IkeSaTerminated)]
    assert sorted(e.identity for e in terminated) == ended
    assert len(r.pool) == 2 - len(ended)  # nothing leaked


@pytest.mark.parametrize(("psk", "ended"), [(PSK, 0), ("a brand new pre-shared key 4u", 2)])
def test_item04_reload_ends_the_psk_sessions_when_the_key_changes(psk, ended):
    r = responder(auth_mode="psk")
    connect_psk(r)
    connect_psk(r, identity=(IdType.FQDN, b"tablet.example.test"), src=("192.0.2.11", 500))
    assert len(r.update_config(config(auth_mode="psk", psk=psk), now=5.0)) == ended
    assert len(list(r.ike_sas())) == 2 - ended
