"""The daemon's randomness: the kernel's CSPRNG, drawn a page at a time.

A handshake asks for random bytes six times or more (SPI, nonce, IVs, rekey jitter ...); one
``getrandom()`` per request is a syscall each, cheap on a PC but not on a small router CPU
(and dear under user-mode Linux). The pool asks the kernel for 4 KiB at once and hands every
byte out exactly once, as OpenSSL's own DRBG buffers its output. Large requests bypass it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["RandomPool"]


class RandomPool:
    """``pool(n) -> n`` random bytes from ``source`` (os.urandom), fetched ``size`` at a time."""

    __slots__ = ("_buffer", "_position", "_size", "_source")

    def __init__(self, source: Callable[[int], bytes] = os.urandom, size: int = 4096) -> None:
        self._source = source
        self._size = size
        self._buffer = b""
        self._position = 0

    def __call__(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("negative length")
        if n > self._size // 8:
            return self._source(n)
        end = self._position + n
        if end > len(self._buffer):
            self._buffer = self._source(self._size)
            self._position, end = 0, n
        out = self._buffer[self._position : end]
        self._position = end
        return out
