"""Item 15: switching to EAP or certificates left the old PSK working.

The server accepted every method it had material for, so an owner who moved away from a
leaked key was still open to it. The methods accepted are the one the owner chose
(auth_mode); reload ends the sessions of a method no longer accepted.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from attack_support import (
    NOW,
    authority,
    config,
    connect_cert,
    connect_eap,
    connect_psk,
    events,
    notify_types,
    responder,
)

from ikev2d.auth import ca as pki
from ikev2d.ike import events as ev
from ikev2d.wire.enums import NotifyType
from ikev2d.wire.payloads import AuthPayload


def _attempts():
    ca, _ = authority()
    laptop = pki.issue_client_cert(ca, "laptop", NOW - dt.timedelta(days=1), os.urandom,
                                   "ecdsa-p256")  # fmt: skip
    return {
        "psk": lambda r: connect_psk(r)[1],
        "eap": lambda r: connect_eap(r, "alice", "correct horse")[1],
        "cert": lambda r: connect_cert(r, laptop, b"laptop")[1],
    }


@pytest.mark.parametrize("mode", ["psk", "eap", "cert"])
def test_item15_only_the_chosen_method_is_accepted(mode):
    for method, attempt in _attempts().items():
        r = responder(auth_mode=mode)  # a PSK, users and the CA are all configured
        inner = attempt(r)
        if method == mode:
            assert any(isinstance(p, AuthPayload) for p in inner), method
            assert len(list(r.ike_sas())) == 1
        else:
            assert notify_types(inner) == [NotifyType.AUTHENTICATION_FAILED], method
            assert list(r.ike_sas()) == [] and r._sas == {}
            failed = [e for e in events(r) if isinstance(e, ev.AuthenticationFailed)]
            assert "not accepted" in failed[0].reason


def test_item15_reload_to_another_method_ends_the_old_methods_sessions():
    r = responder(auth_mode="psk")
    connect_psk(r)
    events(r)
    # the owner switches to EAP; the PSK is still in the configuration
    dropped = r.update_config(config(auth_mode="eap"), now=5.0)
    assert len(dropped) == 1 and list(r.ike_sas()) == []
    terminated = [e for e in events(r) if isinstance(e, ev.IkeSaTerminated)]
    assert "psk" in terminated[0].reason
    r.datagrams_to_send()  # the Delete
    inner = connect_psk(r, now=6.0)[1]
    assert notify_types(inner) == [NotifyType.AUTHENTICATION_FAILED]
