"""The message-ID window of one IKE SA on its own (RFC 7296 §2.3, window size 1 each way)."""

from ikev2d.ike.window import MessageWindow, RequestVerdict

US, PEER = ("192.0.2.1", 500), ("198.51.100.7", 500)


def test_each_peer_request_is_answered_once_in_order_and_resent_for_a_retransmission():
    w = MessageWindow()
    assert w.verdict(0) == RequestVerdict.OUT_OF_WINDOW  # IKE_SA_INIT is not in the SA
    assert w.verdict(1) == RequestVerdict.NEW
    assert w.answered(1, [b"r1"], US, PEER, now=0.0) == [b"r1"]
    assert w.verdict(1) == RequestVerdict.RETRANSMITTED and w.last_response == [b"r1"]
    assert w.verdict(2) == RequestVerdict.NEW
    assert w.verdict(3) == RequestVerdict.OUT_OF_WINDOW


def test_a_held_back_response_goes_out_when_due_and_only_then_answers_retransmissions():
    w = MessageWindow()
    assert w.answered(1, [b"r1"], US, PEER, now=10.0, delay=2.0) == []
    assert w.last_response == [] and w.next_due() == 12.0
    assert w.release_delayed(11.9) is None
    delayed = w.release_delayed(12.0)
    assert delayed is not None and (delayed.local, delayed.remote) == (US, PEER)
    assert delayed.datagrams == w.last_response == [b"r1"] and w.next_due() is None


def test_our_request_is_resent_with_back_off_until_the_tries_run_out():
    w = MessageWindow()
    sent = w.start(lambda mid: [bytes([mid])], next_send=2.0, kind="dpd", on_response=None)
    assert sent == [b"\x00"] and w.busy and w.next_own_id == 1
    assert w.resend_due(1.0, timeout=2.0, tries=3) == []  # not yet
    assert w.resend_due(2.0, timeout=2.0, tries=3) == [b"\x00"]
    assert w.next_due() == 2.0 + 4.0  # 2 s doubled
    assert w.resend_due(6.0, timeout=2.0, tries=3) == [b"\x00"]
    assert w.next_due() == 6.0 + 8.0
    assert w.resend_due(14.0, timeout=2.0, tries=3) is None  # given up
    assert w.pending is None


def test_a_response_is_matched_by_its_message_id():
    w = MessageWindow()
    w.start(lambda mid: [b"req"], next_send=1.0, kind="dpd", on_response=None)
    assert w.take_response(1) is None
    pending = w.take_response(0)
    assert pending is not None and pending.kind == "dpd"
