"""The router's own addresses, read over rtnetlink (RTM_GETADDR dumps).

Two users: the virtual-IP routes take their source address from the protected subnets, and
MOBIKE clients are told our other addresses (ADDITIONAL_IP4/6_ADDRESS) so they can move to
another one, an IPv6 address when their IPv4 network goes, say.
"""

from __future__ import annotations

import ipaddress
import socket

from ikev2d.kernel import rtnl
from ikev2d.kernel.netlink import NetlinkSocket

__all__ = ["LocalAddresses"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class LocalAddresses:
    """Address dumps over a NETLINK_ROUTE socket the caller owns."""

    def __init__(self, nl: NetlinkSocket) -> None:
        self._nl = nl

    def dump(self, family: int = socket.AF_UNSPEC) -> list[tuple[int, IPAddress]]:
        """(interface index, address) of every address of `family` (both when AF_UNSPEC)."""
        seq = self._nl.next_seq()
        found = []
        for mtype, buf, offset in self._nl.request(
            rtnl.dump_addresses(seq, family), seq, "GETADDR"
        ):
            if mtype != rtnl.RTM_NEWADDR:
                continue
            index, text = rtnl.decode_address(buf, offset)
            if text is not None:
                found.append((index, ipaddress.ip_address(text)))
        return found

    def beside(self, address: str) -> list[str]:
        """The other addresses of the interface that holds `address`, both families, that a
        client elsewhere could reach (no loopback, link-local or multicast ones)."""
        own = ipaddress.ip_address(address)
        found = self.dump()
        index = next((i for i, a in found if a == own), None)
        return [
            str(a) for i, a in found
            if i == index and a != own
            and not (a.is_loopback or a.is_link_local or a.is_multicast)
        ]  # fmt: skip
