"""Item 9: amplification.

Replays of one IKE_SA_INIT from a spoofed source were answered at ~1.2-1.8 times its size for
30 s, and fresh IKE_SA_INITs from one address each got a full answer (32 half-open SAs per
address). Now an identical retransmission is answered at most 4 times, a second apart, and
any half-open SA from an address makes its next attempts return a cookie first.
"""

from __future__ import annotations

from attack_support import Client, responder, roundtrip

from ikev2d.wire.enums import NotifyType
from ikev2d.wire.message import decode_message

VICTIM = ("203.0.113.7", 500)  # the forged source address


def test_item09_replays_of_one_ike_sa_init_are_answered_a_few_times_only():
    r = responder()
    request = Client(address=VICTIM).init_request()
    sent = received = 0
    for tick in range(120):  # 4 replays a second for 30 s, bounded
        answers = roundtrip(r, request, src=VICTIM, now=tick / 4)
        received += len(request)
        sent += sum(len(a) for a in answers)
    assert sent <= 5 * 600  # the answer and at most 4 repeats
    assert sent < received / 10, (sent, received)


def test_item09_new_attempts_from_a_loaded_address_get_a_cookie_first():
    r = responder()
    sent = received = 0
    for tick in range(100):  # bounded
        request = Client(address=VICTIM).init_request()
        answers = roundtrip(r, request, src=VICTIM, now=tick / 10)
        received += len(request)
        sent += sum(len(a) for a in answers)
        if tick:
            (answer,) = answers
            assert decode_message(answer).notify(NotifyType.COOKIE) is not None
    assert len(r._sas) == 1 and sent < received / 2, (sent, received)
