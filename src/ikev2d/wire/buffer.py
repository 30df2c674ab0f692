"""One buffer helper for the decoder: bounds-checked `pull_*` reads (encoding packs structs).

Reads never raise anything but `ParseError`; a read past the end names what was being read.
Reading works over `bytes` (or a `memoryview`) with an explicit window, so sub-structures are
parsed in place without copying.
"""

import struct

from .errors import ParseError

__all__ = ["Buffer"]

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!L")
_U64 = struct.Struct("!Q")


class Buffer:
    """A reading cursor over `data[start:end]`."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else end

    @property
    def data(self) -> bytes | bytearray | memoryview:
        return self._data

    def tell(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return self._end - self._pos

    def eof(self) -> bool:
        return self._pos >= self._end

    def _need(self, n: int, what: str) -> int:
        pos = self._pos
        if n < 0 or pos + n > self._end:
            raise ParseError(
                f"truncated {what}: need {n} bytes at offset {pos}, have {self._end - pos}"
            )
        self._pos = pos + n
        return pos

    def peek_uint16(self) -> int | None:
        """The next 16-bit value without consuming it, or None if fewer than 2 bytes remain."""
        if self._pos + 2 > self._end:
            return None
        value: int = _U16.unpack_from(self._data, self._pos)[0]
        return value

    def pull_uint8(self, what: str = "uint8") -> int:
        return self._data[self._need(1, what)]

    def pull_uint16(self, what: str = "uint16") -> int:
        value: int = _U16.unpack_from(self._data, self._need(2, what))[0]
        return value

    def pull_uint32(self, what: str = "uint32") -> int:
        value: int = _U32.unpack_from(self._data, self._need(4, what))[0]
        return value

    def pull_uint64(self, what: str = "uint64") -> int:
        value: int = _U64.unpack_from(self._data, self._need(8, what))[0]
        return value

    def pull_struct(self, fmt: struct.Struct, what: str) -> tuple[int, ...]:
        return fmt.unpack_from(self._data, self._need(fmt.size, what))

    def pull_bytes(self, n: int, what: str = "bytes") -> bytes:
        pos = self._need(n, what)
        return bytes(self._data[pos : pos + n])

    def pull_rest(self) -> bytes:
        pos, self._pos = self._pos, self._end
        return bytes(self._data[pos : self._end])

    def pull_window(self, n: int, what: str) -> "Buffer":
        """A reader over the next `n` bytes (no copy); this buffer skips past them."""
        pos = self._need(n, what)
        return Buffer(self._data, pos, pos + n)
