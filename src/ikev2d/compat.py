"""Shims for optional platform pieces, with APIs no bigger than micropython-lib's.

Logging: a tiny logger of our own instead of the ``logging`` module. On OpenWrt ``logging`` is a
separate package (python3-logging) and imports ~20 modules; the daemon needs four levels, one
line per message and a choice of stderr (procd forwards it to logd) or syslog. ``syslog`` is a
small C module in python3-light; when it is missing we fall back to stderr.

Every message passes through :func:`printable`, so text that came from a client (identities are
chosen by the peer) can never forge extra log lines or terminal escapes.
"""

from __future__ import annotations

import sys
import time

__all__ = ["LEVELS", "Logger", "printable"]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
# syslog priorities (<syslog.h>) so we need not import syslog for stderr logging
_SYSLOG_PRIORITY = {10: 7, 20: 6, 30: 4, 40: 3}  # LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR
_MAX_LINE = 2000  # one log line, whatever a peer sends


def printable(text: str) -> str:
    """``text`` with control characters escaped and its length bounded."""
    if len(text) > _MAX_LINE:
        text = text[:_MAX_LINE] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Logger:
    """``debug``/``info``/``warning``/``error`` (micropython-lib's subset), to stderr or syslog.

    ``Logger(level="info", syslog=False, stream=None)``; ``stream`` defaults to sys.stderr.
    """

    def __init__(self, level: str = "info", *, syslog: bool = False, stream=None) -> None:
        self.level = LEVELS[level]
        self._stream = stream
        self._syslog = None
        self._stamp_second, self._stamp_text = -1, ""
        if syslog:
            try:
                import syslog as _syslog  # optional platform module
            except ImportError:
                self.warning("syslog is not available, logging to stderr")
            else:
                _syslog.openlog("ikev2d", _syslog.LOG_PID, _syslog.LOG_DAEMON)
                self._syslog = _syslog

    def _stamp(self, now: float) -> str:
        """Local time to the second, formatted once per second (strftime asks the C library
        for the time zone each call: system calls a busy second need not repeat)."""
        second = int(now)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return self._stamp_text

    def set_level(self, level: str) -> None:
        self.level = LEVELS[level]

    def log(self, level: int, message: str) -> None:
        if level < self.level:
            return
        message = printable(message)
        if self._syslog is not None:
            self._syslog.syslog(_SYSLOG_PRIORITY[level], message)
            return
        name = {10: "debug", 20: "info", 30: "warning", 40: "error"}[level]
        stream = self._stream if self._stream is not None else sys.stderr
        stamp = self._stamp(time.time())
        try:
            stream.write(f"{stamp} ikev2d {name}: {message}\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must never stop the daemon

    def debug(self, message: str) -> None:
        self.log(10, message)

    def info(self, message: str) -> None:
        self.log(20, message)

    def warning(self, message: str) -> None:
        self.log(30, message)

    def error(self, message: str) -> None:
        self.log(40, message)
