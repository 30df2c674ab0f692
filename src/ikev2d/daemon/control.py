"""The control socket: JSON lines over a UNIX stream socket, served inside the event loop.

One request per line, ``{"cmd": "status"}`` or ``{"cmd": "disconnect", "target": "alice"}``;
one reply line each, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
The directory is created 0700 and the socket is 0600: only root may talk to the daemon.
Connections are non-blocking and bounded (count, line length, pending output), so a stuck
client can never stall the loop or grow its memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
from collections.abc import Callable

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_LINE",
    "CommandError",
    "ControlServer",
    "dispatch",
    "open_control_socket",
]

MAX_LINE = 64 * 1024
MAX_CONNECTIONS = 16
MAX_PENDING_OUT = 4 * 1024 * 1024


class CommandError(Exception):
    """A request the daemon refuses: ``{"ok": false, "error": str(exc)}``."""


def dispatch(line: bytes, commands: dict[str, Callable[[dict], object]], log) -> dict:
    """One request line to one reply object (never raises)."""
    try:
        request = json.loads(line)
    except ValueError:
        return {"ok": False, "error": "invalid JSON"}
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        return {"ok": False, "error": 'a request is an object with a "cmd" string'}
    handler = commands.get(request["cmd"])
    if handler is None:
        known = ", ".join(sorted(commands))
        return {"ok": False, "error": f"unknown command {request['cmd'][:40]!r} (known: {known})"}
    try:
        return {"ok": True, "result": handler(request)}
    except CommandError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a bug in one command must not stop the VPN server
        log.error(f"control command {request['cmd']!r} failed: {type(exc).__name__}: {exc}")
        return {"ok": False, "error": f"internal error: {type(exc).__name__}"}


def open_control_socket(path: str) -> socket.socket:
    """Listen on ``path`` (stale socket replaced; a live daemon there raises OSError; anything
    that is not a socket, a symlink included, is left alone and raises OSError)."""
    directory = os.path.dirname(path) or "."
    # Created 0700 when missing; an existing directory keeps its mode (it may be /tmp).
    os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISSOCK(found.st_mode):
        raise OSError(f"{path} exists and is not a socket: not removing it (control_socket)")
    if found is not None:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # left by a daemon that died
        else:
            raise OSError(f"another ikev2d is running (control socket {path})")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)  # the socket is born 0600: no window with wider modes
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        sock.listen(8)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Connection:
    __slots__ = ("inbuf", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()


class ControlServer:
    """Accepts connections and answers request lines; registers itself with a selector.

    ``selector`` is a ``selectors`` selector; the loop calls the ``data`` of a ready key
    (``callback(mask)``).
    """

    def __init__(self, path: str, selector, commands: dict, log) -> None:
        import selectors  # the loop has imported it already

        self._READ, self._WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
        self.path = path
        self._selector = selector
        self._commands = commands
        self._log = log
        self._conns: dict[int, _Connection] = {}
        self.listener = open_control_socket(path)
        selector.register(self.listener, self._READ, self._accept)

    def _accept(self, mask: int) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(self._conns) >= MAX_CONNECTIONS:
            sock.close()
            return
        sock.setblocking(False)
        conn = _Connection(sock)
        self._conns[sock.fileno()] = conn
        self._selector.register(sock, self._READ, lambda m, c=conn: self._ready(c, m))

    def _ready(self, conn: _Connection, mask: int) -> None:
        if mask & self._READ and not self._read(conn):
            return
        self._flush(conn)

    def _read(self, conn: _Connection) -> bool:
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self._close(conn)
            return False
        conn.inbuf += chunk
        while (end := conn.inbuf.find(b"\n")) >= 0:
            line = bytes(conn.inbuf[:end])
            del conn.inbuf[: end + 1]
            if line.strip():
                self._answer(conn, dispatch(line, self._commands, self._log))
        if len(conn.inbuf) > MAX_LINE:
            self._answer(conn, {"ok": False, "error": "request line too long"})
            conn.inbuf.clear()
        if len(conn.outbuf) > MAX_PENDING_OUT:
            self._close(conn)  # a client that sends but never reads
            return False
        return True

    def _answer(self, conn: _Connection, reply: dict) -> None:
        conn.outbuf += json.dumps(reply, separators=(",", ":")).encode() + b"\n"

    def _flush(self, conn: _Connection) -> None:
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._close(conn)
                return
        events = self._READ | (self._WRITE if conn.outbuf else 0)
        self._selector.modify(conn.sock, events, lambda m, c=conn: self._ready(c, m))

    def _close(self, conn: _Connection) -> None:
        self._conns.pop(conn.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def close(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self.listener)
        self.listener.close()
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):  # ours, unless replaced meanwhile
                os.unlink(self.path)
