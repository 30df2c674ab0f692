"""Inbound ESP SPIs, chosen by ikev2d itself instead of the kernel's XFRM_MSG_ALLOCSPI.

ALLOCSPI costs a netlink round trip and a larval SA per Child SA; on a router CPU (and under
user-mode Linux) that was a quarter of the daemon's system calls per handshake. An SPI only
has to be unique among the inbound SAs of one destination address, so the daemon draws it at
random from its own range, skips the ones it uses, and adds the inbound SA with NEWSA (never
UPDSA): the kernel refuses a duplicate with EEXIST, so an SPI that another program holds
fails that one install instead of overwriting its SA.

The range sits beside strongSwan's default (0xc0000000-0xcfffffff), so a strongSwan in the
same network namespace never draws the same SPI; the chance of meeting another program's
random SPI is its SA count in 2**28 per Child SA.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["SPI_RANGE", "InboundSpis"]

SPI_RANGE = range(0xD000_0000, 0xE000_0000)
# SPIs handed out for a Child SA still being negotiated (an IKE_AUTH or CREATE_CHILD_SA that
# may never finish): kept apart from the rest until installed, the oldest forgotten first.
MAX_PENDING = 4096
_DRAWS = 64  # with 2**28 SPIs and at most a few 10 000 in use, 64 misses in a row never happen


class InboundSpis:
    """The inbound SPIs of one datapath: handed out (pending) or installed."""

    __slots__ = ("_installed", "_pending", "_rng")

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng
        self._pending: dict[int, None] = {}  # insertion order: the oldest first
        self._installed: set[int] = set()

    def new(self) -> int:
        """An SPI of SPI_RANGE that no pending or installed SA of ours uses."""
        for _ in range(_DRAWS):
            spi = SPI_RANGE.start + int.from_bytes(self._rng(4), "big") % len(SPI_RANGE)
            if spi not in self._pending and spi not in self._installed:
                if len(self._pending) >= MAX_PENDING:
                    del self._pending[next(iter(self._pending))]
                self._pending[spi] = None
                return spi
        raise RuntimeError("no free inbound SPI found")  # only with a broken rng

    def installed(self, spi: int) -> None:
        self._pending.pop(spi, None)
        self._installed.add(spi)

    def released(self, spi: int) -> None:
        """The SA with this SPI is gone (removed, or its install failed)."""
        self._pending.pop(spi, None)
        self._installed.discard(spi)

    def clear(self) -> None:
        self._pending.clear()
        self._installed.clear()

    def __contains__(self, spi: object) -> bool:
        return spi in self._pending or spi in self._installed
