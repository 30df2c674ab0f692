"""Item 5: the client said AUTHENTICATION_FAILED and the server kept the SA.

A client that cannot verify our IKE_AUTH answer reports it in a separate INFORMATIONAL
(RFC 7296 §2.21.2). The server kept the IKE SA, its ESP SAs and the leased address until DPD.
"""

from __future__ import annotations

from attack_support import connect_psk, events, notify_types, responder, roundtrip

from ikev2d.ike import events as ev
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.payloads import NotifyPayload


def test_item05_an_authentication_failed_notify_ends_a_fresh_sa_at_once():
    r = responder()
    client, _ = connect_psk(r)
    events(r)
    # INFORMATIONAL { N(AUTHENTICATION_FAILED) } -->   <-- { }
    refused = client.informational([NotifyPayload.of(NotifyType.AUTHENTICATION_FAILED)])
    (resp,) = roundtrip(r, refused, now=1.0)
    header, inner = client.open(resp)
    assert header.exchange == ExchangeType.INFORMATIONAL and notify_types(inner) == []
    kinds = {type(e) for e in events(r)}
    assert {ev.ChildSaRemoved, ev.IkeSaTerminated, ev.AuthenticationFailed} <= kinds
    assert list(r.ike_sas()) == [] and len(r.pool) == 0 and r._sas == {}


def test_item05_the_notify_on_a_settled_sa_is_answered_and_changes_nothing():
    r = responder()
    client, _ = connect_psk(r)
    assert len(roundtrip(r, client.informational([]), now=1.0)) == 1  # a liveness check first
    events(r)
    refused = client.informational([NotifyPayload.of(NotifyType.AUTHENTICATION_FAILED)])
    assert len(roundtrip(r, refused, now=2.0)) == 1
    assert events(r) == [] and len(list(r.ike_sas())) == 1
