"""ikev2d.control_client, the one client of the control socket (ikev2ctl, the rpcd helper and
the test harness use it): its answers for every way a reply can go wrong. A real daemon's
replies are in tests/unit/daemon; the rpcd helper's in tests/packaging and tests/router."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from ikev2d.control_client import MAX_REPLY, ControlError, NotRunning, Refused, call, request


@pytest.fixture
def serve(tmp_path):
    """serve(reply bytes) -> socket path: one connection, the request read, `reply` sent."""
    threads = []

    def start(reply: bytes) -> str:
        path = str(tmp_path / f"control{len(threads)}.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)

        def answer() -> None:
            with listener, listener.accept()[0] as conn:
                seen = b""
                while not seen.endswith(b"\n"):
                    seen += conn.recv(65536)
                assert seen == b'{"cmd":"status"}\n'
                with contextlib.suppress(OSError):  # the client stops reading a huge reply
                    conn.sendall(reply)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        threads.append(thread)
        return path

    yield start
    for thread in threads:
        thread.join(5)


def test_nothing_listening_is_not_running(tmp_path):
    with pytest.raises(NotRunning) as info:
        call(str(tmp_path / "none.sock"), {"cmd": "status"})
    assert str(info.value) == "ikev2d is not running"
    assert info.value.path == str(tmp_path / "none.sock")


def test_the_result_and_the_daemons_refusal(serve):
    assert call(serve(b'{"ok": true, "result": {"running": true}}\n'), {"cmd": "status"}) == {
        "running": True
    }
    with pytest.raises(Refused, match=r"^no connected client matches 'x'$"):
        call(serve(b'{"ok": false, "error": "no connected client matches \'x\'"}\n'),
             {"cmd": "status"})  # fmt: skip
    reply = request(serve(b'{"ok": false, "error": "nope"}\n'), {"cmd": "status"})
    assert reply == {"ok": False, "error": "nope"}  # request() gives the whole reply


@pytest.mark.parametrize(
    "reply",
    [b"{bad json\n", b"[1, 2]\n", b"", b'{"ok": true, "result": "' + b"x" * MAX_REPLY + b'"}\n'],
    ids=["not-json", "not-an-object", "closed-without-reply", "too-large"],
)
def test_no_valid_answer(serve, reply):
    with pytest.raises(ControlError, match=r"^no valid answer from ikev2d") as info:
        call(serve(reply), {"cmd": "status"})
    assert not isinstance(info.value, NotRunning | Refused)
