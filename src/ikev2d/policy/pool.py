"""The virtual-IP pool: leases IPv4 addresses to clients (CP INTERNAL_IP4_ADDRESS).

- Sticky: an identity that comes back gets its previous address again while nobody else holds
  it (a bounded map remembers the last address of the most recent identities), and new
  identities are steered away from addresses remembered for others while free ones remain.
- Never shared: one address belongs to at most one live lease.
- Fixed addresses (a user's ``ip``) belong to that identity only, live or not.
- The network and broadcast addresses and ``reserved`` ones (e.g. a DNS server inside the pool)
  are never leased.
- Exhaustion raises PoolExhausted; the responder answers INTERNAL_ADDRESS_FAILURE.

Addresses are kept as ints (offsets into the network) to keep memory per lease small.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Iterable, Mapping

from ikev2d.wire.enums import NotifyType

__all__ = ["AddressPool", "PoolError", "PoolExhausted", "reserved_hosts"]

IPv4 = ipaddress.IPv4Address


def reserved_hosts(
    network: ipaddress.IPv4Network,
    addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> frozenset[IPv4]:
    """The host addresses of ``network`` among ``addresses`` (a DNS server inside the pool):
    the pool leases none of them. Its network and broadcast addresses are no hosts (never
    leased anyway; the router may answer DNS on the network address, which the init script
    puts on lo)."""
    ends = (network.network_address, network.broadcast_address)
    return frozenset(a for a in addresses if isinstance(a, IPv4) and a in network and a not in ends)


class PoolError(Exception):
    """No address can be given; ``notify`` is what the responder answers."""

    notify = NotifyType.INTERNAL_ADDRESS_FAILURE


class PoolExhausted(PoolError):
    pass


class AddressPool:
    """Leases addresses of ``network`` to identities (any hashable key, e.g. an Identity)."""

    def __init__(
        self,
        network: ipaddress.IPv4Network | str,
        reserved: Iterable[IPv4 | str] = (),
        fixed: Mapping[Hashable, IPv4 | str] | None = None,
        *,
        sticky_limit: int | None = None,
    ) -> None:
        self.network = ipaddress.IPv4Network(network)
        if self.network.prefixlen > 30:
            raise ValueError("a pool needs at least a /30 network")
        self._base = int(self.network.network_address)
        self._size = self.network.num_addresses
        # offsets 1 .. size-2 are hosts; network (0) and broadcast (size-1) are never leased
        self._blocked: set[int] = {self._offset(a, "reserved") for a in reserved}
        self._fixed: dict[Hashable, int] = {}
        self._fixed_owner: dict[int, Hashable] = {}
        for key, addr in (fixed or {}).items():
            off = self._offset(addr, "fixed")
            if off in self._blocked or off in self._fixed_owner:
                raise ValueError(f"fixed address {self._addr(off)} is reserved or used twice")
            self._fixed[key] = off
            self._fixed_owner[off] = key
        self._dynamic_hosts = self._size - 2 - len(self._blocked) - len(self._fixed)
        self._owner: dict[int, Hashable] = {}  # live leases: offset -> key
        self._dynamic_in_use = 0
        self._last: dict[Hashable, int] = {}  # sticky memory, oldest first
        self._remembered: dict[int, Hashable] = {}
        self._limit = sticky_limit if sticky_limit is not None else min(self._size, 4096)
        self._cursor = 1

    # -- helpers ------------------------------------------------------------------------------
    def _offset(self, addr: IPv4 | str, what: str) -> int:
        off = int(IPv4(addr)) - self._base
        if not 1 <= off < self._size - 1:
            raise ValueError(f"{what} address {addr} is not a host address of {self.network}")
        return off

    def _addr(self, off: int) -> IPv4:
        return IPv4(self._base + off)

    def _remember(self, key: Hashable, off: int) -> None:
        old = self._last.pop(key, None)
        if old is not None and self._remembered.get(old) == key:
            del self._remembered[old]
        self._last[key] = off
        self._remembered[off] = key
        while len(self._last) > self._limit:
            old_key = next(iter(self._last))
            old_off = self._last.pop(old_key)
            if self._remembered.get(old_off) == old_key:
                del self._remembered[old_off]

    def _usable(self, off: int) -> bool:
        return off not in self._owner and off not in self._blocked and off not in self._fixed_owner

    def _scan(self, key: Hashable) -> int:
        """A free dynamic address, preferring one nobody else is remembered for."""
        fallback = None
        hosts = self._size - 2
        off = self._cursor
        for _ in range(hosts):
            if self._usable(off):
                holder = self._remembered.get(off)
                if holder is None or holder == key:
                    self._cursor = off % hosts + 1
                    return off
                if fallback is None:
                    fallback = off
            off = off % hosts + 1
        if fallback is None:  # unreachable while the counters are right; keep the error clean
            raise PoolExhausted(f"no free address in {self.network}")
        return fallback

    # -- the interface ------------------------------------------------------------------------
    def lease(self, key: Hashable, requested: IPv4 | str | None = None) -> IPv4:
        """Give ``key`` an address: its fixed one, else ``requested`` if free, else its last
        one if free, else any free one. Raise PoolExhausted (a PoolError) when none is left."""
        fixed = self._fixed.get(key)
        if fixed is not None:
            if fixed in self._owner:
                raise PoolError(f"fixed address {self._addr(fixed)} of {key} is in use")
            self._owner[fixed] = key
            return self._addr(fixed)
        if self._dynamic_in_use >= self._dynamic_hosts:
            raise PoolExhausted(f"all {self._dynamic_hosts} addresses of {self.network} in use")
        off = None
        if requested is not None:
            cand = int(IPv4(requested)) - self._base
            holder = self._remembered.get(cand)
            if 1 <= cand < self._size - 1 and self._usable(cand) and holder in (None, key):
                off = cand
        if off is None:
            last = self._last.get(key)
            if last is not None and self._usable(last):
                off = last
        if off is None:
            off = self._scan(key)
        self._owner[off] = key
        self._dynamic_in_use += 1
        self._remember(key, off)
        return self._addr(off)

    def release(self, address: IPv4 | str) -> None:
        """Return an address; releasing one that is not leased is a no-op (idempotent)."""
        off = int(IPv4(address)) - self._base
        if self._owner.pop(off, None) is not None and off not in self._fixed_owner:
            self._dynamic_in_use -= 1

    def owner(self, address: IPv4 | str) -> Hashable | None:
        return self._owner.get(int(IPv4(address)) - self._base)

    def in_use(self) -> dict[IPv4, Hashable]:
        """The live leases, address -> key, in address order."""
        return {self._addr(off): key for off, key in sorted(self._owner.items())}

    def __len__(self) -> int:
        return len(self._owner)

    @property
    def capacity(self) -> int:
        """How many addresses can be leased in all (dynamic and fixed)."""
        return self._dynamic_hosts + len(self._fixed)

    def __repr__(self) -> str:
        return f"AddressPool({self.network}, {len(self._owner)}/{self.capacity} leased)"
