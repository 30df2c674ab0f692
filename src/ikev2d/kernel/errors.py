"""The exceptions the kernel room raises for a refused netlink request (XFRM or route)."""

from __future__ import annotations

import errno as _errno
import os

__all__ = ["NetlinkError", "RouteError", "XfrmError"]


class NetlinkError(OSError):
    """The kernel refused a netlink request.

    ``errno`` is the positive error number from the netlink ack, ``message`` the kernel's
    extended-ack text when it sent one (else ``strerror``), ``operation`` names what we asked
    for (``"NEWSA"``, ``"UPDPOLICY"`` …) so a log line says which step of an install failed.
    """

    family = "netlink"

    def __init__(self, errno: int, message: str, operation: str) -> None:
        super().__init__(errno, message)
        self.message = message
        self.operation = operation

    @classmethod
    def from_errno(cls, errno: int, operation: str, ext_msg: str | None = None) -> NetlinkError:
        text = ext_msg or os.strerror(errno)
        return cls(errno, text, operation)

    @property
    def not_found(self) -> bool:
        """True for ESRCH/ENOENT: the object was already gone."""
        return self.errno in (_errno.ESRCH, _errno.ENOENT)

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno, str(self.errno))
        return f"{self.family} {self.operation} failed: {self.message} ({name})"


class XfrmError(NetlinkError):
    """The kernel refused an XFRM request (NETLINK_XFRM)."""

    family = "XFRM"


class RouteError(NetlinkError):
    """The kernel refused a route or address request (NETLINK_ROUTE)."""

    family = "rtnetlink"
