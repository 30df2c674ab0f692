"""The kernel's expire events for our SAs and policies (the XFRMNLGRP_EXPIRE multicast group):
an SA's soft lifetime (rekey now) or hard lifetime (the kernel deleted it)."""

from __future__ import annotations

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.netlink import NetlinkSocket
from ikev2d.kernel.tunnel import EventsLost, PolicyExpired, SaExpired

__all__ = ["ExpireListener", "KernelEvent"]

KernelEvent = SaExpired | PolicyExpired | EventsLost
_MAX_EVENTS = 4096  # per read() call; the rest waits for the next poll


class ExpireListener:
    """A socket in the expire group; ``read()`` returns what is queued, never blocks."""

    def __init__(self) -> None:
        self._sock = NetlinkSocket(groups=(m.XFRMNLGRP_EXPIRE,))

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self) -> list[KernelEvent]:
        """Expire events for our SAs/policies already queued (EventsLost when the kernel
        dropped some: its buffer ran over)."""
        events: list[KernelEvent] = []
        for mtype, buf, offset in self._sock.receive_nowait():
            if mtype < 0:
                events.append(EventsLost())
                continue
            event = b.parse_event(mtype, buf, offset)
            if event is not None:
                events.append(event)
            if len(events) >= _MAX_EVENTS:
                break
        return events

    def close(self) -> None:
        self._sock.close()
