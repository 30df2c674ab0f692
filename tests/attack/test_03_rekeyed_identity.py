"""Item 3: a rekeyed IKE SA forgot who the client is.

After the routine rekey the new SA lacked the user name, the certificate serial, the
fragmentation and hash-algorithm state: a revoked certificate was not dropped by reload,
`disconnect <user>` found nothing and status showed the client's self-chosen identity.
"""

from __future__ import annotations

import datetime as dt
import os

from attack_support import (
    IOS_LIKE_INIT,
    NOW,
    authority,
    config,
    connect_cert,
    connect_eap,
    credentials,
    events,
    responder,
    roundtrip,
)

from ikev2d.auth import ca as pki
from ikev2d.ike import events as ev


def _rekey(r, client):
    """CREATE_CHILD_SA { SA(IKE), Ni, KEi } -->  <-- { SA, Nr, KEr }: the new SA."""
    (old,) = r.ike_sas()
    names = ("identity", "user", "cert_serial", "virtual_ip", "fragmentation", "peer_hashes")
    before = {name: getattr(old.client, name) for name in names}
    (resp,) = roundtrip(r, client.rekey_ike_request(), now=10.0)
    client.switch_to_rekeyed(client.open(resp)[1])
    (rekeyed,) = [e for e in events(r) if isinstance(e, ev.IkeSaRekeyed)]
    (new,) = [sa for sa in r.ike_sas() if sa.handle == rekeyed.new]
    assert new is not old
    assert {name: getattr(new.client, name) for name in names} == before
    assert new.client.fragmentation and new.client.peer_hashes and new.client.user is not None
    return new


def test_item03_a_rekeyed_eap_session_is_still_the_user():
    r = responder(auth_mode="eap")
    alice, _ = connect_eap(r, "alice", "correct horse", extra_init=IOS_LIKE_INIT)
    new = _rekey(r, alice)
    assert r.find("alice") == [new]  # `disconnect alice` and status find her
    users = ({"name": "alice", "password": "correct horse", "enabled": False},
             {"name": "bob", "password": "hunter22"})  # fmt: skip
    assert r.update_config(config(users, auth_mode="eap"), now=30.0) == [new]  # disabled
    assert r.find("alice") == [] and len(r.pool) == 0


def test_item03_a_rekeyed_certificate_session_is_dropped_when_revoked():
    ca, _ = authority()
    laptop = pki.issue_client_cert(ca, "laptop", NOW - dt.timedelta(days=1), os.urandom,
                                   "ecdsa-p256")  # fmt: skip
    r = responder(auth_mode="cert")
    client, _ = connect_cert(r, laptop, b"laptop", extra_init=IOS_LIKE_INIT)
    new = _rekey(r, client)
    assert new.client.cert_serial == laptop.certificate.serial_number
    revoked = credentials(frozenset({laptop.certificate.serial_number}))
    assert r.update_credentials(revoked, 20.0) == [new]
    assert list(r.ike_sas()) == [] and len(r.pool) == 0
