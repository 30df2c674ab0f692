"""Item 2: a pre-shared-key client could take an EAP user's fixed address.

Pool keys of PSK clients (their IDi text) and of EAP users (their name) shared one namespace:
IDi key-id "alice" with the PSK received alice's fixed address. And a reload re-leased under
another key than at connect: fixed-address users were dropped ("address changed") and an
address leaked each time.
"""

from __future__ import annotations

import datetime as dt
import os

from attack_support import (
    ALICE_IP,
    NOW,
    authority,
    config,
    connect_cert,
    connect_eap,
    connect_psk,
    events,
    responder,
)

from ikev2d.auth import ca as pki
from ikev2d.wire.enums import IdType
from testbed.ike_initiator import vip


def test_item02_a_fixed_address_goes_only_to_its_authenticated_user():
    # a PSK client naming itself "alice" does not get alice's address
    r = responder(auth_mode="psk")
    _, inner = connect_psk(r, identity=(IdType.KEY_ID, b"alice"))
    assert str(vip(inner)) != ALICE_IP
    # the EAP user alice does; so does the certificate our CA issued for alice (cert mode)
    r = responder(auth_mode="eap")
    _, inner = connect_eap(r, "alice", "correct horse")
    assert str(vip(inner)) == ALICE_IP
    ca, _ = authority()
    cert = pki.issue_client_cert(ca, "alice", NOW - dt.timedelta(days=1), os.urandom, "ecdsa-p256")
    r = responder(auth_mode="cert")
    _, inner = connect_cert(r, cert, b"alice")
    assert str(vip(inner)) == ALICE_IP


def test_item02_reload_keeps_the_lease_key_of_the_connect():
    r = responder(auth_mode="eap")
    connect_eap(r, "alice", "correct horse")
    connect_eap(r, "bob", "hunter22", src=("192.0.2.11", 500))
    events(r)
    leases = dict(r.pool.in_use())
    for n in range(3):  # every reload keeps both, with the same leases, and leaks nothing
        assert r.update_config(config(auth_mode="eap", dpd_delay=40 + n), now=5.0 + n) == []
        assert events(r) == []
        assert dict(r.pool.in_use()) == leases and len(r.pool) == 2
    assert {str(a) for a in leases} >= {ALICE_IP}
