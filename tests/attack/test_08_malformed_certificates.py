"""Item 8: malformed client certificates escaped the responder.

An issuer that does not parse (cryptography parses it lazily: ValueError on first access) or
a version the loader refuses (InvalidVersion) escaped as an internal error: the loop logged an
error per packet, no AUTHENTICATION_FAILED was sent and nothing was counted against the
sender. Every certificate parsing or attribute failure is an authentication failure now.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from attack_support import NOW, authority, connect_cert, events, notify_types, responder
from cryptography.hazmat.primitives.serialization import Encoding

from ikev2d.auth import ca as pki
from ikev2d.ike import events as ev
from ikev2d.wire.enums import NotifyType


def _laptop():
    ca, _ = authority()
    return pki.issue_client_cert(ca, "laptop", NOW - dt.timedelta(days=1), os.urandom,
                                 "ecdsa-p256")  # fmt: skip


def _broken(der: bytes, kind: str) -> bytes:
    if kind == "issuer":  # the CA's name as invalid UTF-8 (a UTF8String attribute)
        i = der.index(b"attack CA")
        return der[:i] + b"\xff" * 9 + der[i + 9 :]
    i = der.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT version v3 -> "v4"
    return der[:i] + b"\xa0\x03\x02\x01\x03" + der[i + 5 :]


@pytest.mark.parametrize("kind", ["issuer", "version"])
def test_item08_a_certificate_that_does_not_parse_is_an_authentication_failure(kind):
    laptop = _laptop()
    der = _broken(laptop.certificate.public_bytes(Encoding.DER), kind)
    r = responder(auth_mode="cert")
    for attempt in range(5):
        _, inner = connect_cert(r, laptop, b"laptop", now=float(attempt), cert_der=der)
        assert notify_types(inner) == [NotifyType.AUTHENTICATION_FAILED]
        (failed,) = [e for e in events(r) if isinstance(e, ev.AuthenticationFailed)]
        assert "certificate" in failed.reason and r._sas == {}
    # counted against the sender: its next attempts are ignored for a while
    with pytest.raises(ValueError):
        connect_cert(r, laptop, b"laptop", now=6.0)


def test_item08_no_mutation_of_a_client_certificate_escapes():
    laptop = _laptop()
    der = laptop.certificate.public_bytes(Encoding.DER)
    r = responder(auth_mode="cert", max_half_open=1000)
    for n, position in enumerate(range(4, len(der), 3)):  # bounded: one byte at a time
        mutated = der[:position] + bytes([der[position] ^ 0xC3]) + der[position + 1 :]
        src = (f"198.18.{n // 250}.{n % 250 + 1}", 500)  # fresh addresses: no throttling
        _, inner = connect_cert(r, laptop, b"laptop", src=src, cert_der=mutated)
        assert notify_types(inner) == [NotifyType.AUTHENTICATION_FAILED], position
    assert list(r.ike_sas()) == []
