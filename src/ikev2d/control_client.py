"""The client of the daemon's control socket: one JSON request line, one JSON reply line
(docs/interfaces.md). The one copy, used by ``ikev2ctl`` (cli.py), the rpcd helper on the
router (files/usr/libexec/ikev2d/rpcd_call.py) and the test harness (testbed).

    result = call("/var/run/ikev2d/control.sock", {"cmd": "status"})

Standard library only (json, socket: python3-light), so the rpcd helper stays cheap.
"""

from __future__ import annotations

import json
import socket

__all__ = ["DEFAULT_SOCKET", "ControlError", "NotRunning", "Refused", "call", "request"]

DEFAULT_SOCKET = "/var/run/ikev2d/control.sock"
MAX_REPLY = 4 * 1024 * 1024  # a profile with certificates is tens of kilobytes
TIMEOUT = 10.0


class ControlError(Exception):
    """No valid answer from the daemon (the message says why)."""


class NotRunning(ControlError):
    """Nothing listens on the control socket."""

    def __init__(self, path: str) -> None:
        super().__init__("ikev2d is not running")
        self.path = path


class Refused(ControlError):
    """The daemon refused the request: ``{"ok": false, "error": ...}``; str() is its error."""


def request(path: str, message: dict, *, timeout: float = TIMEOUT) -> dict:
    """The daemon's reply object to one request (raises NotRunning, ControlError)."""
    line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            raise NotRunning(path) from None
        try:
            reply = _exchange(sock, line)
        except OSError as exc:
            raise ControlError(f"no valid answer from ikev2d: {exc}") from None
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ControlError("no valid answer from ikev2d: not a JSON object")
    return answer


def call(path: str, message: dict, *, timeout: float = TIMEOUT) -> object:
    """The result of one request (raises Refused with the daemon's error, NotRunning,
    ControlError)."""
    answer = request(path, message, timeout=timeout)
    if not answer.get("ok"):
        raise Refused(str(answer.get("error") or "ikev2d refused the request"))
    return answer.get("result")


def _exchange(sock: socket.socket, line: bytes) -> bytes:
    sock.sendall(line)
    reply = bytearray()
    while b"\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
        if len(reply) > MAX_REPLY:
            raise ControlError("no valid answer from ikev2d: the reply is too large")
    return bytes(reply).split(b"\n", 1)[0]
