"""One request over the XFRM netlink socket and its replies: the steps every XFRM operation
is made of (the messages themselves come from :mod:`ikev2d.kernel.xfrm_build`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.errors import XfrmError
from ikev2d.kernel.netlink import NetlinkSocket, Reply

__all__ = ["call", "delete_quietly", "sa_info"]


def call(
    nl: NetlinkSocket, build: Callable[..., bytes], operation: str, *args: object
) -> list[Reply]:
    """Send ``build(*args, seq)``; the replies (raises XfrmError naming `operation`)."""
    seq = nl.next_seq()
    return nl.request(build(*args, seq), seq, operation)


def delete_quietly(
    nl: NetlinkSocket, build: Callable[..., bytes], operation: str, *args: object
) -> bool:
    """A delete request; False when the object was gone already (not an error)."""
    try:
        call(nl, build, operation, *args)
    except XfrmError as exc:
        if not exc.not_found:
            raise
        return False
    return True


def sa_info(nl: NetlinkSocket, dst: object, spi: int) -> Any:  # pyroute2 xfrm_usersa_info
    """The kernel's SA (dst, spi), decoded (GETSA)."""
    for mtype, buf, offset in call(nl, b.build_getsa, "GETSA", dst, spi):
        if mtype == m.XFRM_MSG.NEWSA:
            return m.decode_message(m.xfrm_usersa_info, buf, offset)
    raise XfrmError(71, "GETSA answered without an SA", "GETSA")  # EPROTO
