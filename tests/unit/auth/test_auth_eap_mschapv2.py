"""EAP-MSCHAPv2 conversations against a test peer built from the RFC 2759 formulas."""

import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ikev2d.auth.eap import (
    eap_failure,
    eap_success,
    identity_request,
    parse_eap,
    parse_identity_response,
)
from ikev2d.auth.eap_mschapv2 import EapMschapv2Server
from testbed.mschapv2_peer import MschapV2Peer

USERS = {"alice": "correct horse", "bob": "hunter2"}


def counting_rng():
    counter = itertools.count(1)
    return lambda n: bytes((next(counter) + i) & 0xFF for i in range(n))


Peer = MschapV2Peer


def new_server(**kw):
    return EapMschapv2Server(USERS.get, **kw)


def test_successful_conversation_gives_equal_msk_on_both_sides():
    server, peer = new_server(), Peer("alice", "correct horse")
    # EAP-Request/MSCHAPv2 Challenge <--
    request = server.start(7, counting_rng())
    assert parse_eap(request).identifier == 7
    # EAP-Response Response -->  / <-- Success request
    result = server.process(peer.answer(request))
    assert result.success is None and result.send[4] == 26 and result.send[5] == 3
    assert parse_eap(result.send).identifier == 8
    # EAP-Response Success -->  / <-- EAP-Success
    final = server.process(peer.answer(result.send))
    assert final.success is True
    assert final.send == eap_success(8)
    assert final.user == "alice"
    assert final.msk == peer.msk() and len(final.msk) == 64
    assert server.finished
    assert "correct" not in repr(final) and final.msk.hex() not in repr(final)


def test_domain_prefix_is_stripped_for_lookup_and_hash():
    server, peer = new_server(), Peer("CORP\\bob", "hunter2")
    result = server.process(peer.answer(server.start(1, counting_rng())))
    final = server.process(peer.answer(result.send))
    assert final.success is True and final.user == "bob"


def test_wrong_password_then_retry_with_correct_password_succeeds():
    server, peer = new_server(max_retries=1), Peer("alice", "wrong")
    result = server.process(peer.answer(server.start(1, counting_rng())))
    assert result.success is None and result.send[5] == 4 and result.delay == 2.0
    assert result.msk is None
    peer.password = "correct horse"  # the user types it again
    result = server.process(peer.answer(result.send))
    final = server.process(peer.answer(result.send))
    assert final.success is True and final.msk == peer.msk()


def test_wrong_password_fails_after_bounded_retries():
    server, peer = new_server(max_retries=2), Peer("alice", "wrong")
    send = server.start(1, counting_rng())
    failures = 0
    for _ in range(10):
        result = server.process(peer.answer(send))
        if result.success is False:
            break
        failures += 1
        send = result.send
    assert failures == 2
    assert result.success is False and result.msk is None and result.user is None
    assert parse_eap(result.send).code == 4
    assert server.process(peer.answer(send)).success is False  # stays finished


def test_unknown_user_looks_like_wrong_password():
    server, peer = new_server(max_retries=0), Peer("mallory", "x")
    result = server.process(peer.answer(server.start(1, counting_rng())))
    assert result.success is False
    assert result.reason == "authentication failed, no retries left"


def test_disabled_user_without_password_is_refused_even_with_matching_response():
    # password_for returns None for disabled users; no NT-Response may authenticate them.
    server = EapMschapv2Server(lambda name: None, max_retries=0)
    peer = Peer("alice", "\x00unknown-user\x00")
    assert server.process(peer.answer(server.start(1, counting_rng()))).success is False


def test_peer_failure_response_ends_with_eap_failure():
    server, peer = new_server(), Peer("alice", "wrong")
    retry = server.process(peer.answer(server.start(3, counting_rng())))
    ident = parse_eap(retry.send).identifier
    give_up = struct.pack("!BBHBB", 2, ident, 6, 26, 4)
    result = server.process(give_up)
    assert result.success is False and result.send == eap_failure(ident)


def test_wrong_identifier_and_nak_fail():
    server, peer = new_server(), Peer("alice", "correct horse")
    response = bytearray(peer.answer(server.start(5, counting_rng())))
    response[1] = 6
    assert server.process(bytes(response)).success is False
    server = new_server()
    server.start(5, counting_rng())
    nak = struct.pack("!BBHBB", 2, 5, 6, 3, 4)
    assert server.process(nak).reason.startswith("peer declined")


def test_inconsistent_ms_length_fails():
    server, peer = new_server(), Peer("alice", "correct horse")
    response = bytearray(peer.answer(server.start(5, counting_rng())))
    response[8] ^= 1
    assert server.process(bytes(response)).success is False


def test_identity_helpers():
    assert identity_request(9) == bytes([1, 9, 0, 5, 1])
    assert parse_identity_response(bytes([2, 9, 0, 9, 1]) + b"dave", 9) == "dave"
    assert parse_identity_response(bytes([2, 9, 0, 10, 1]) + b"dave\x00", 9) == "dave"
    assert parse_identity_response(bytes([2, 8, 0, 9, 1]) + b"dave", 9) is None
    assert parse_identity_response(bytes([2, 9, 0, 5, 1]), 9) is None
    assert parse_identity_response(bytes([2, 9, 0, 7, 1]) + b"\xff\xfe", 9) is None
    assert parse_identity_response(bytes([2, 9, 0, 7, 1]) + b"a\n", 9) is None
    long = b"x" * 254
    assert parse_identity_response(bytes([2, 9, 1, 3, 1]) + long, 9) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_never_raise(data, after_challenge):
    server = new_server()
    server.start(0, counting_rng())
    if after_challenge and len(data) > 5:
        data = bytes([2, 0]) + len(data).to_bytes(2, "big") + bytes([26]) + data[5:]
    result = server.process(data)
    assert result.success is not True
    assert result.msk is None
    assert result.send is None or parse_eap(result.send) is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_fuzzed_response_after_valid_prefix(tail):
    server = new_server()
    server.start(0, counting_rng())
    body = bytes([2, 0, 0]) + (4 + len(tail)).to_bytes(2, "big")[1:] + tail
    packet = bytes([2, 0]) + (5 + len(body)).to_bytes(2, "big") + bytes([26]) + body
    result = server.process(packet)
    assert result.success in (None, False) and result.msk is None
