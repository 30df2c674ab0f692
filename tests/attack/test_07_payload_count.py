"""Item 7: no cap on payloads per message, and the cheap checks came last.

A 64 KB datagram of 16,000 empty payloads was decoded in full (~24 ms on a PC) before any
cookie or limit check. Now a chain of more than 64 payloads is refused at the 65th, and an
IKE_SA_INIT is decoded only after its size, header, sender and the half-open limits passed.
"""

from __future__ import annotations

import struct

import pytest
from attack_support import Client, responder, roundtrip

import ikev2d.ike.responder as responder_module
from ikev2d.wire.enums import ExchangeType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import Header, decode_message

_EMPTY_UNKNOWN = 200  # a private-use payload type: decoded as UnknownPayload


def _empty_payloads(count: int, exchange=ExchangeType.IKE_SA_INIT) -> bytes:
    """A header and `count` empty payloads, each naming the next."""
    body = b"".join(
        struct.pack("!BBH", _EMPTY_UNKNOWN if i < count - 1 else 0, 0, 4) for i in range(count)
    )
    header = Header(b"\x11" * 8, bytes(8), exchange, 0, initiator=True)
    return header.encode(_EMPTY_UNKNOWN, 28 + len(body)) + body


def test_item07_a_flood_of_empty_payloads_is_refused_at_the_cap():
    data = _empty_payloads(16_000)
    assert len(data) > 64_000
    with pytest.raises(ParseError, match="more than 64 payloads"):
        decode_message(data)
    decode_message(_empty_payloads(64))  # the cap itself is fine


@pytest.fixture
def decodes(monkeypatch):
    """How often the responder decoded a whole IKE_SA_INIT (a counting pass-through)."""
    calls = []

    def counting(data):
        calls.append(len(data))
        return decode_message(data)

    monkeypatch.setattr(responder_module, "_decode", counting)  # its lazy codec call
    return calls


def test_item07_cheap_checks_come_before_decoding(decodes):
    r = responder(max_half_open=2, cookie_threshold=100)
    assert roundtrip(r, _empty_payloads(16_000)) == [] and decodes == []  # too big to read
    for i in range(2):  # fill the half-open table
        assert len(roundtrip(r, Client().init_request(), src=(f"192.0.2.{i + 1}", 500))) == 1
    assert len(decodes) == 2
    assert roundtrip(r, Client().init_request(), src=("192.0.2.9", 500)) == []
    assert roundtrip(r, _empty_payloads(900), src=("192.0.2.9", 500)) == []
    assert len(decodes) == 2  # dropped by the limit, unread
