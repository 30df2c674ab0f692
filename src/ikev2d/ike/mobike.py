"""Following a client that moved (RFC 4555 MOBIKE, and NAT re-mappings per RFC 7296 §2.23).

   { N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_*), [N(COOKIE2)] } -->
                             <-- { N(NAT_DETECTION_*), [N(COOKIE2)] }

The IKE SA and every Child SA take the addresses the request came from and to; NAT is
detected anew from the request's NAT_DETECTION notifies. The kernel follows through
`ChildSaUpdated` events.
"""

from __future__ import annotations

from dataclasses import replace

from ikev2d.wire.enums import NotifyType
from ikev2d.wire.payloads import NotifyPayload, Payload

from . import events as ev
from .context import Context
from .events import Address
from .nat import nat_detected, nat_detection_hash
from .sa import IkeSa

__all__ = ["follow_client"]


def follow_client(
    ctx: Context, sa: IkeSa, src: Address, dst: Address, inner: list[Payload] | None = None
) -> list[Payload]:
    """Move the SA to (dst, src); with `inner` (an UPDATE_SA_ADDRESSES request) also redo NAT
    detection and return the notifies for the response."""
    reply: list[Payload] = []
    if inner is not None:
        found = nat_detected(inner, sa.spi_i, sa.spi_r, src, dst)
        if found is not None:
            sa.nat_remote, sa.nat_local = found
        reply = [
            NotifyPayload.of(
                NotifyType.NAT_DETECTION_SOURCE_IP, nat_detection_hash(sa.spi_i, sa.spi_r, dst)
            ),
            NotifyPayload.of(
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                nat_detection_hash(sa.spi_i, sa.spi_r, src),
            ),
        ]
        cookie2 = next(
            (p for p in inner if isinstance(p, NotifyPayload)
             and p.notify_type == NotifyType.COOKIE2),
            None,
        )  # fmt: skip
        if cookie2 is not None:
            reply.append(NotifyPayload.of(NotifyType.COOKIE2, cookie2.data))
    if (sa.local, sa.remote) == (dst, src) and inner is None:
        return reply
    sa.local, sa.remote = dst, src
    encap = (dst[1], src[1]) if sa.nat else None
    for child in sa.children:
        new = replace(child.spec, local=dst, remote=src, encap=encap)
        if new != child.spec:
            ctx.emit(ev.ChildSaUpdated(sa.handle, child.spec, new))
            child.spec = new
    return reply
